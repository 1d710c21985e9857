"""The test as kubelet: marks pods Running and Ready by writing pod status to the real apiserver.

Integration tests have no kubelet; Deployments only progress when pods become available, so this
writes what a kubelet would (phase Running, condition Ready=True with a transition time).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient
from skiff_common import errors


def is_ready(pod: pod_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def mark_ready(client: ApiClient, pod: pod_pb2.Pod) -> None:
    fresh = pod_pb2.Pod()
    fresh.CopyFrom(pod)
    fresh.status.phase = "Running"
    del fresh.status.conditions[:]
    cond = fresh.status.conditions.add(type="Ready", status="True")
    cond.last_transition_time.FromDatetime(datetime.now(UTC).replace(microsecond=0))
    with contextlib.suppress(errors.NotFound, errors.Conflict):
        await client.update_status(fresh)


@contextlib.asynccontextmanager
async def readiness(
    client: ApiClient,
    namespace: str = "default",
    *,
    when: Callable[[pod_pb2.Pod], bool] = lambda p: True,
    per_pass: int = 1000,
    interval: float = 0.1,
) -> AsyncIterator[None]:
    """While inside, pods of ``namespace`` for which ``when`` holds are made Ready, at most
    ``per_pass`` every ``interval`` seconds (a slow kubelet makes a rollout take many steps)."""

    async def run() -> None:
        while True:
            try:
                pods = (await client.list(pod_pb2.Pod, namespace)).items
            except errors.SkiffError:
                pods = []
            todo = [p for p in pods if not is_ready(p) and not p.metadata.HasField("deletion_timestamp") and when(p)]
            for pod in todo[:per_pass]:
                await mark_ready(client, pod)
            await asyncio.sleep(interval)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
