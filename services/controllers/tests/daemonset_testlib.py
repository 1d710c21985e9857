"""Helpers of the DaemonSet integration tests: a DaemonSet, and the test playing the scheduler (binds each
pod to the node its affinity pins) and the kubelet (marks pods Running and Ready, confirms deletes)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_controllers.daemonset import placement


def daemonset(
    name: str, *, selector: dict[str, str] | None = None, strategy: str = "RollingUpdate"
) -> apps_pb2.DaemonSet:
    ds = apps_pb2.DaemonSet(
        api_version="apps/v1", kind="DaemonSet", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    ds.spec.selector.match_labels["name"] = name
    ds.spec.template.metadata.labels["name"] = name
    ds.spec.template.spec.containers.add(name="c", image="busybox:1")
    ds.spec.template.spec.node_selector.update(selector or {})
    ds.spec.update_strategy.type = strategy
    return ds


async def set_image(client: ApiClient, name: str, image: str) -> None:
    """Change the template's image (read-modify-write; the controller writes status meanwhile)."""
    for _ in range(10):
        ds = await client.get(apps_pb2.DaemonSet, name, "default")
        ds.spec.template.spec.containers[0].image = image
        try:
            await client.update(ds)
            return
        except errors.Conflict:
            continue
    raise AssertionError("DaemonSet update kept conflicting")


async def pods_of(client: ApiClient, name: str) -> list[pod_pb2.Pod]:
    return (await client.list(pod_pb2.Pod, "default", label_selector=f"name={name}")).items


@contextlib.asynccontextmanager
async def fake_kubelets(client: ApiClient, name: str) -> AsyncIterator[None]:
    async def loop() -> None:
        while True:
            for pod in await pods_of(client, name):
                try:
                    if pod.metadata.HasField("deletion_timestamp"):
                        await client.delete(pod_pb2.Pod, pod.metadata.name, "default", grace_period_seconds=0)
                    elif not pod.spec.node_name:
                        await client.bind(pod.metadata.name, "default", placement.target_node(pod))
                    elif pod.status.phase != "Running":
                        pod.status.phase = "Running"
                        pod.status.conditions.add(type="Ready", status="True", last_transition_time=now_timestamp())
                        await client.update_status(pod)
                except (errors.NotFound, errors.Conflict):
                    pass
            await asyncio.sleep(0.1)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def live_by_node(client: ApiClient, name: str) -> dict[str, list[pod_pb2.Pod]]:
    out: dict[str, list[pod_pb2.Pod]] = {}
    for p in await pods_of(client, name):
        if not p.metadata.HasField("deletion_timestamp"):
            out.setdefault(placement.target_node(p), []).append(p)
    return out
