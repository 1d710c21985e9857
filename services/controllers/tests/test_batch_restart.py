"""Restart safety: the real controller-manager, killed with SIGKILL in the middle of the work.

* a 10-completion Job: after the manager comes back, the Job ends with exactly 10 completions (no
  completion lost, none counted twice, no extra pod);
* a CronJob at its schedule time, and across the next one: exactly one Job per schedule time, none
  skipped, and the CronJob's status records the Job made before the kill.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # batch_testlib beside this file (importlib import mode)

from batch_testlib import ManagerProcess, condition, finish, job_pods, new_job, uniq
from skiff.api.batch.v1 import batch_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import Cluster, eventually

pytestmark = [pytest.mark.etcd, pytest.mark.slow]


@pytest.fixture
def manager(apiserver: Cluster, tmp_path: Path) -> Iterator[ManagerProcess]:
    m = ManagerProcess(apiserver.target, "job,cronjob", tmp_path / "controllers.log")
    m.start()
    try:
        yield m
    finally:
        m.stop()


async def test_job_survives_kill9_with_exactly_10_completions(client: ApiClient, manager: ManagerProcess) -> None:
    name = uniq("ten")
    await client.create(new_job(name, completions=10, parallelism=3))
    finished = 0
    killed = False
    while True:
        job = await client.get(batch_pb2.Job, name, "default")
        if condition(job, "Complete"):
            break
        active = await job_pods(client, name, active_only=True)
        if not active:
            await asyncio.sleep(0.05)
            continue
        await finish(client, active[0])
        finished += 1
        if finished == 4 and not killed:
            manager.kill9()  # right after a pod finished: mid-count
            killed = True
            # While it is down, more pods finish; nobody counts them yet.
            for p in (await job_pods(client, name, active_only=True))[:2]:
                await finish(client, p)
                finished += 1
            manager.start()
    job = await client.get(batch_pb2.Job, name, "default")
    pods = await job_pods(client, name)
    succeeded_pods = [p for p in pods if p.status.phase == "Succeeded"]
    assert killed
    assert job.status.succeeded == 10, job.status
    assert len(succeeded_pods) == 10 == finished
    assert job.status.failed == 0 and not job.status.HasField("uncounted_terminated_pods")


async def test_cronjob_due_across_kill9_makes_one_job(client: ApiClient, manager: ManagerProcess) -> None:
    """Killed right after acting on a schedule time, and killed just before the next one falls due (it comes
    back after): each schedule time gets exactly one Job, and none is skipped."""
    name = uniq("due")
    cj = batch_pb2.CronJob(
        api_version="batch/v1", kind="CronJob", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    cj.spec.schedule = "* * * * *"
    cj.spec.job_template.spec.template.spec.containers.add(name="hello", image="busybox:1.28", command=["date"])
    await client.create(cj)

    async def jobs() -> list[batch_pb2.Job]:
        return [
            j
            for j in (await client.list(batch_pb2.Job, "default")).items
            if any(r.name == name for r in j.metadata.owner_references)
        ]

    first = (await eventually(jobs, "the Job of the first schedule time", within=120))[0]
    manager.kill9()  # it is due and just acted: the status write may or may not have happened
    manager.start()

    async def recorded() -> batch_pb2.CronJob | None:
        got = await client.get(batch_pb2.CronJob, name, "default")
        return got if first.metadata.name in [r.name for r in got.status.active] else None

    got = await eventually(recorded, "the restarted controller records the existing Job as active", within=60)
    first_minute = got.status.last_schedule_time.seconds // 60
    assert first.metadata.name == f"{name}-{first_minute}"

    # Down across the next schedule time.
    boundary = (first_minute + 1) * 60
    while time.time() > boundary - 1.5:
        boundary += 60
    await asyncio.sleep(boundary - 1.5 - time.time())
    manager.kill9()
    await asyncio.sleep(boundary + 1 - time.time())
    manager.start()

    async def caught_up() -> list[batch_pb2.Job] | None:
        found = await jobs()
        return found if any(j.metadata.name == f"{name}-{boundary // 60}" for j in found) else None

    await eventually(caught_up, "the Job of the schedule time missed while down", within=60)
    await asyncio.sleep(2)
    per_time: dict[str, int] = {}
    for j in await jobs():
        stamp = j.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        per_time[stamp] = per_time.get(stamp, 0) + 1
    assert set(per_time.values()) == {1}, per_time
    minutes = sorted(int(j.metadata.name.rsplit("-", 1)[1]) for j in await jobs())
    assert minutes == list(range(minutes[0], minutes[-1] + 1)), minutes  # none skipped
    assert minutes[0] == first_minute and minutes[-1] >= boundary // 60
