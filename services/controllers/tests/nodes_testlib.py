"""Helpers for the nodes-area integration tests: run one controller against the test apiserver."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_client.events import now_timestamp
from skiff_controllers.base import ControllerContext


@asynccontextmanager
async def running(client: ApiClient, make: Callable[[ControllerContext], Any]) -> AsyncIterator[Any]:
    ctx = ControllerContext(api=client, factory=InformerFactory(client), events=EventRecorder(client, "test"))
    controller = make(ctx)
    ctx.factory.start()
    task = asyncio.create_task(controller.run())
    try:
        yield controller
    finally:
        controller.queue.shutdown()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ctx.factory.stop()
        await ctx.events.flush()


async def add_node(
    client: ApiClient, name: str, *, labels: dict[str, str] | None = None, ready: str = "True"
) -> node_pb2.Node:
    await client.create(
        node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name, labels=labels or {}))
    )
    return await post_status(client, name, ready)


async def post_status(client: ApiClient, name: str, ready: str = "True") -> node_pb2.Node:
    """Play the kubelet: a status heartbeat."""
    node = await client.get(node_pb2.Node, name)
    del node.status.conditions[:]
    node.status.conditions.add(
        type="Ready",
        status=ready,
        reason="KubeletReady",
        last_heartbeat_time=now_timestamp(),
        last_transition_time=now_timestamp(),
    )
    for k, v in (("cpu", "4"), ("memory", "8Gi"), ("pods", "110")):
        node.status.allocatable[k].value = v
        node.status.capacity[k].value = v
    return await client.update_status(node)


def bare_pod(name: str, *, node: str = "", labels: dict[str, str] | None = None) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(
        api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default", labels=labels or {})
    )
    pod.spec.containers.add(name="c", image="busybox")
    pod.spec.node_name = node
    return pod
