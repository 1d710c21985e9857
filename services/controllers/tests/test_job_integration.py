"""The Job controller against a real etcd + apiserver; the test plays the kubelet (pod status writes)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # batch_testlib beside this file (importlib import mode)

from batch_testlib import FINALIZER, condition, event_reasons, finish, job_pods, new_job, uniq
from skiff.api.batch.v1 import batch_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager

pytestmark = pytest.mark.etcd


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, ["job"])
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


async def get_job(api: ApiClient, name: str) -> batch_pb2.Job:
    return await api.get(batch_pb2.Job, name, "default")


async def test_completions_with_parallelism(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("pi")
    await client.create(new_job(name, completions=5, parallelism=2))
    done = 0
    while done < 5:
        active = await eventually(lambda: job_pods(client, name, active_only=True), "active pods")
        assert len(active) <= 2, [p.metadata.name for p in active]
        for p in active:
            assert FINALIZER in p.metadata.finalizers
            assert p.metadata.labels["batch.kubernetes.io/controller-uid"] == p.metadata.owner_references[0].uid
            assert p.metadata.labels["job-name"] == name
        await finish(client, active[0])
        done += 1

        async def counted(n: int = done) -> bool:
            j = await get_job(client, name)
            return j.status.succeeded == n and not j.status.uncounted_terminated_pods.succeeded

        await eventually(counted, f"{done} counted")
    job = await eventually(lambda: _finished(client, name), "Complete")
    assert condition(job, "Complete").reason == "CompletionsReached"
    assert job.status.succeeded == 5 and job.status.active == 0 and job.status.HasField("completion_time")
    assert job.status.start_time.seconds <= job.status.completion_time.seconds
    for p in await job_pods(client, name):
        assert FINALIZER not in p.metadata.finalizers
    reasons = await eventually(lambda: _reasons_with(client, name, "Completed"), "Completed event")
    assert "SuccessfulCreate" in reasons


async def _finished(api: ApiClient, name: str) -> batch_pb2.Job | None:
    j = await get_job(api, name)
    return j if condition(j, "Complete") or condition(j, "Failed") else None


async def _reasons_with(api: ApiClient, name: str, reason: str) -> list[str] | None:
    reasons = await event_reasons(api, name)
    return reasons if reason in reasons else None


async def test_indexed_job(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("idx")
    await client.create(new_job(name, completions=3, parallelism=3, completion_mode="Indexed"))

    async def three() -> list[pod_pb2.Pod] | None:
        pods = await job_pods(client, name, active_only=True)
        return pods if len(pods) == 3 else None

    pods = await eventually(three, "3 indexed pods")
    by_index = {int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"]): p for p in pods}
    assert set(by_index) == {0, 1, 2}
    for i, p in by_index.items():
        assert p.metadata.name.startswith(f"{name}-{i}-")
        assert p.spec.hostname == f"{name}-{i}"
        env = {e.name: e for e in p.spec.containers[0].env}
        assert env["JOB_COMPLETION_INDEX"].value_from.field_ref.field_path == (
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        )
    await finish(client, by_index[1])
    await eventually(lambda: _status_is(client, name, completed_indexes="1"), "index 1 completed")
    # A failed index is retried with a pod of the same index.
    await finish(client, by_index[0], exit_code=1)

    async def replacement() -> pod_pb2.Pod | None:
        for p in await job_pods(client, name, active_only=True):
            if p.metadata.annotations["batch.kubernetes.io/job-completion-index"] == "0":
                if p.metadata.uid != by_index[0].metadata.uid:
                    return p
        return None

    again = await eventually(replacement, "a new pod for index 0 after back-off", within=90)
    await finish(client, again)
    await finish(client, by_index[2])
    job = await eventually(lambda: _finished(client, name), "Complete")
    assert job.status.completed_indexes == "0-2" and job.status.succeeded == 3 and job.status.failed == 1


async def _status_is(api: ApiClient, name: str, **fields: object) -> bool:
    j = await get_job(api, name)
    return all(getattr(j.status, k) == v for k, v in fields.items())


async def test_backoff_limit_exceeded(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("flaky")
    await client.create(new_job(name, completions=1, parallelism=1, backoff_limit=0))
    (pod,) = await eventually(lambda: job_pods(client, name, active_only=True), "a pod")
    await finish(client, pod, exit_code=1)
    job = await eventually(lambda: _finished(client, name), "Failed")
    c = condition(job, "Failed")
    assert (c.reason, c.message) == ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
    assert job.status.failed == 1 and not job.status.HasField("completion_time")
    await eventually(lambda: _reasons_with(client, name, "BackoffLimitExceeded"), "event")


async def test_pod_failure_policy(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("pfp")
    j = new_job(name, completions=4, parallelism=2, backoff_limit=6)
    j.spec.pod_failure_policy.rules.add(action="Ignore").on_pod_conditions.add(type="DisruptionTarget")
    r = j.spec.pod_failure_policy.rules.add(action="FailJob")
    r.on_exit_codes.operator = "In"
    r.on_exit_codes.values.append(42)
    await client.create(j)
    first, second = await eventually(lambda: job_pods(client, name, active_only=True), "pods")
    await finish(client, first, exit_code=137, conditions=("DisruptionTarget",))  # evicted: ignored

    async def replaced() -> bool:
        pods = await job_pods(client, name, active_only=True)
        return len(pods) == 2 and first.metadata.uid not in {p.metadata.uid for p in pods}

    await eventually(replaced, "the evicted pod replaced")
    assert (await get_job(client, name)).status.failed == 0
    await finish(client, second, exit_code=42)
    job = await eventually(lambda: _finished(client, name), "Failed")
    c = condition(job, "Failed")
    assert c.reason == "PodFailurePolicy"
    assert c.message.endswith("failed with exit code 42 matching FailJob rule at index 1")

    async def all_gone() -> bool:
        return not await job_pods(client, name, active_only=True)

    await eventually(all_gone, "the other pod deleted")


async def test_active_deadline(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("slow")
    await client.create(new_job(name, completions=1, active_deadline_seconds=2))
    job = await eventually(lambda: _finished(client, name), "Failed")
    assert condition(job, "Failed").reason == "DeadlineExceeded"
    assert condition(job, "Failed").message == "Job was active longer than specified deadline"
    assert not await job_pods(client, name, active_only=True)


async def test_suspend_and_resume(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("sus")
    await client.create(new_job(name, completions=2, parallelism=2, suspend=True))

    async def suspended() -> batch_pb2.Job | None:
        j = await get_job(client, name)
        return j if condition(j, "Suspended") else None

    job = await eventually(suspended, "Suspended")
    assert condition(job, "Suspended").reason == "JobSuspended" and not await job_pods(client, name)
    await client.patch(batch_pb2.Job, name, "default", {"spec": {"suspend": False}})
    pods = await eventually(lambda: job_pods(client, name, active_only=True), "pods after resume")

    async def resumed() -> batch_pb2.Job | None:
        j = await get_job(client, name)
        c = next((c for c in j.status.conditions if c.type == "Suspended"), None)
        return j if c is not None and c.status == "False" and j.status.HasField("start_time") else None

    job = await eventually(resumed, "Suspended=False (JobResumed) and a start time")
    assert next(c for c in job.status.conditions if c.type == "Suspended").reason == "JobResumed"
    await client.patch(batch_pb2.Job, name, "default", {"spec": {"suspend": True}})

    async def no_pods() -> bool:
        return not await job_pods(client, name)

    await eventually(no_pods, "pods deleted on suspend (their finalizer released)")
    job = await get_job(client, name)
    assert job.status.failed == 0 and pods


async def test_ttl_after_finished(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("ttl")
    await client.create(new_job(name, completions=1, ttl_seconds_after_finished=0))
    (pod,) = await eventually(lambda: job_pods(client, name, active_only=True), "a pod")
    await finish(client, pod)

    async def gone() -> bool:
        try:
            await get_job(client, name)
        except errors.NotFound:
            return True
        return False

    await eventually(gone, "the Job deleted after its TTL")


async def test_deleted_job_releases_its_pods(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("gone")
    await client.create(new_job(name, completions=1))
    (pod,) = await eventually(lambda: job_pods(client, name, active_only=True), "a pod")
    await client.delete(batch_pb2.Job, name, "default", propagation_policy="Background")

    async def released() -> bool:
        p = await client.get(pod_pb2.Pod, pod.metadata.name, "default")
        return FINALIZER not in p.metadata.finalizers

    await eventually(released, "the tracking finalizer removed")


async def test_no_extra_pods_while_cache_lags(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("steady")
    await client.create(new_job(name, completions=10, parallelism=4))

    async def four() -> bool:
        return len(await job_pods(client, name)) == 4

    await eventually(four, "4 pods")
    await asyncio.sleep(1)
    assert len(await job_pods(client, name)) == 4


async def test_lowered_parallelism_deletes_only_the_surplus(client: ApiClient, manager: ControllerManager) -> None:
    name = uniq("shrink")
    await client.create(new_job(name, completions=10, parallelism=4))

    async def count(n: int) -> bool:
        return len(await job_pods(client, name, active_only=True)) == n

    await eventually(lambda: count(4), "4 pods")
    await client.patch(batch_pb2.Job, name, "default", {"spec": {"parallelism": 1}})
    await eventually(lambda: count(1), "1 pod left")
    for _ in range(10):  # a lagging cache must not make it delete the last one too
        assert len(await job_pods(client, name, active_only=True)) == 1
        await asyncio.sleep(0.1)
    job = await get_job(client, name)
    assert job.status.failed == 0
