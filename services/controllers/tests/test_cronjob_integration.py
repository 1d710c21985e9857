"""The CronJob controller against a real etcd + apiserver, with an injected clock (no minute-long waits)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # batch_testlib beside this file (importlib import mode)

from batch_testlib import event_reasons, uniq
from skiff.api.batch.v1 import batch_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_cluster_fixture import eventually
from skiff_controllers.base import ControllerContext
from skiff_controllers.cronjob.controller import CronJobController

pytestmark = pytest.mark.etcd


@dataclass
class Clock:
    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class Running:
    controller: CronJobController
    clock: Clock

    def tick(self, seconds: float, key: str) -> None:
        """Move the clock and poke the key (the real requeue_after timer is in real seconds)."""
        self.clock.now += seconds
        self.controller.loop.enqueue(key)


@pytest.fixture
async def cron(client: ApiClient) -> AsyncIterator[Running]:
    ctx = ControllerContext(api=client, factory=InformerFactory(client), events=EventRecorder(client, "test"))
    # Start at the next whole minute + 1 s, so a "* * * * *" CronJob created now is due at once.
    clock = Clock(float((int(time.time()) // 60 + 1) * 60 + 1))
    controller = CronJobController(ctx, clock=clock)
    ctx.factory.start()
    task = asyncio.create_task(controller.loop.run())
    try:
        yield Running(controller, clock)
    finally:
        controller.loop.shutdown()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ctx.factory.stop()
        await ctx.events.flush()


def new_cronjob(name: str, schedule: str = "* * * * *", **spec: object) -> batch_pb2.CronJob:
    c = batch_pb2.CronJob(
        api_version="batch/v1", kind="CronJob", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    c.spec.schedule = schedule
    c.spec.job_template.spec.template.spec.containers.add(name="hello", image="busybox:1.28", command=["date"])
    for k, v in spec.items():
        setattr(c.spec, k, v)
    return c


async def children(api: ApiClient, cj: str) -> list[batch_pb2.Job]:
    jobs = (await api.list(batch_pb2.Job, "default")).items
    return sorted(
        (j for j in jobs if any(r.name == cj and r.kind == "CronJob" for r in j.metadata.owner_references)),
        key=lambda j: j.metadata.name,
    )


async def complete(api: ApiClient, job: batch_pb2.Job, type_: str = "Complete") -> None:
    """What the Job controller would write (it does not run here)."""
    fresh = await api.get(batch_pb2.Job, job.metadata.name, "default")
    c = fresh.status.conditions.add(type=type_, status="True", reason="Test")
    c.last_transition_time.GetCurrentTime()
    fresh.status.start_time.GetCurrentTime()
    if type_ == "Complete":
        fresh.status.completion_time.GetCurrentTime()
    await api.update_status(fresh)


async def test_schedules_one_job_per_time_and_sees_it_complete(client: ApiClient, cron: Running) -> None:
    name = uniq("hello")
    await client.create(new_cronjob(name))
    key = f"default/{name}"

    async def n_children(n: int) -> list[batch_pb2.Job] | None:
        jobs = await children(client, name)
        return jobs if len(jobs) == n else None

    (job,) = await eventually(lambda: n_children(1), "the first Job")
    minute = int(cron.clock.now) // 60 * 60
    assert job.metadata.name == f"{name}-{minute // 60}"
    assert job.metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"].startswith(
        time.strftime("%Y-%m-%dT%H:%M:00", time.gmtime(minute))
    )
    assert job.metadata.owner_references[0].controller

    async def recorded() -> batch_pb2.CronJob | None:
        cj = await client.get(batch_pb2.CronJob, name, "default")
        return cj if [r.name for r in cj.status.active] == [job.metadata.name] else None

    cj = await eventually(recorded, "status.active")
    assert cj.status.last_schedule_time.seconds == minute
    # Poking it again within the same minute makes no second Job.
    cron.tick(20, key)
    await asyncio.sleep(0.5)
    assert len(await children(client, name)) == 1
    await complete(client, job)

    async def saw_completed() -> batch_pb2.CronJob | None:
        cj = await client.get(batch_pb2.CronJob, name, "default")
        return cj if not cj.status.active and cj.status.HasField("last_successful_time") else None

    await eventually(saw_completed, "active emptied, lastSuccessfulTime set")
    reasons = await eventually(lambda: _with(client, name, "SawCompletedJob"), "SawCompletedJob")
    assert "SuccessfulCreate" in reasons
    cron.tick(60, key)
    await eventually(lambda: n_children(2), "the next minute's Job")


async def _with(api: ApiClient, name: str, reason: str) -> list[str] | None:
    reasons = await event_reasons(api, name)
    return reasons if reason in reasons else None


async def test_forbid_and_replace(client: ApiClient, cron: Running) -> None:
    forbid, replace = uniq("forbid"), uniq("replace")
    await client.create(new_cronjob(forbid, concurrency_policy="Forbid"))
    await client.create(new_cronjob(replace, concurrency_policy="Replace"))
    first_f = await eventually(lambda: children(client, forbid), "forbid's first Job")
    first_r = await eventually(lambda: children(client, replace), "replace's first Job")

    async def active(name: str) -> bool:
        return bool((await client.get(batch_pb2.CronJob, name, "default")).status.active)

    await eventually(lambda: active(forbid), "forbid active")
    await eventually(lambda: active(replace), "replace active")
    cron.clock.now += 60
    cron.controller.loop.enqueue(f"default/{forbid}")
    cron.controller.loop.enqueue(f"default/{replace}")
    await eventually(lambda: _with(client, forbid, "JobAlreadyActive"), "JobAlreadyActive")
    assert [j.metadata.name for j in await children(client, forbid)] == [first_f[0].metadata.name]

    async def replaced() -> list[batch_pb2.Job] | None:
        jobs = [j for j in await children(client, replace) if not j.metadata.HasField("deletion_timestamp")]
        return jobs if [j.metadata.name for j in jobs] != [first_r[0].metadata.name] and len(jobs) == 1 else None

    await eventually(replaced, "the running Job replaced by the new minute's")
    assert "SuccessfulDelete" in await event_reasons(client, replace)


async def test_suspend_and_history_limits(client: ApiClient, cron: Running) -> None:
    name = uniq("hist")
    await client.create(new_cronjob(name, successful_jobs_history_limit=1, failed_jobs_history_limit=0))
    key = f"default/{name}"
    for i in range(3):
        want = f"{name}-{int(cron.clock.now) // 60}"
        job = await eventually(lambda w=want: _named(client, name, w), want)
        await complete(client, job, "Complete" if i < 2 else "Failed")
        cron.tick(60, key)

    async def pruned() -> list[str] | None:
        names = [j.metadata.name for j in await children(client, name)]
        return names if len(names) == 2 else None  # the newest Complete + the running 4th; the Failed one gone

    await eventually(pruned, "history pruned to the limits")
    await client.patch(batch_pb2.CronJob, name, "default", {"spec": {"suspend": True}})
    await asyncio.sleep(0.3)
    before = len(await children(client, name))
    cron.tick(120, key)
    await asyncio.sleep(0.5)
    assert len(await children(client, name)) == before


async def _named(api: ApiClient, name: str, job: str) -> batch_pb2.Job | None:
    return next((j for j in await children(api, name) if j.metadata.name == job), None)
