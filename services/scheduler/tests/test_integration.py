"""The scheduler against a real apiserver, with Node objects standing in for kubelets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from skiff.api.core.v1 import event_pb2, node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_scheduler.app import SchedulerApp

pytestmark = pytest.mark.etcd


@pytest.fixture
async def scheduler(client: ApiClient) -> AsyncIterator[SchedulerApp]:
    app = SchedulerApp(client)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def add_node(client: ApiClient, name: str, cpu: str, labels: dict[str, str] | None = None) -> None:
    node = await client.create(
        node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name, labels=labels or {}))
    )
    node.status.conditions.add(type="Ready", status="True")
    for k, v in (("cpu", cpu), ("memory", "4Gi"), ("pods", "10")):
        node.status.allocatable[k].value = v
        node.status.capacity[k].value = v
    await client.update_status(node)


def make_pod(name: str, cpu: str, selector: dict[str, str] | None = None) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    c = pod.spec.containers.add(name="c", image="busybox")
    c.resources.requests["cpu"].value = cpu
    pod.spec.node_selector.update(selector or {})
    return pod


async def node_of(client: ApiClient, name: str) -> str:
    return (await client.get(pod_pb2.Pod, name, "default")).spec.node_name


async def test_binds_to_fitting_node_and_accounts_for_bound_pods(client: ApiClient, scheduler: SchedulerApp) -> None:
    small, big = f"small-{uuid.uuid4().hex[:4]}", f"big-{uuid.uuid4().hex[:4]}"
    await add_node(client, small, "1")
    await add_node(client, big, "4")
    await client.create(make_pod("p1", "3"))
    assert await eventually(lambda: node_of(client, "p1"), "p1 bound") == big
    # p2 (2 cpu) no longer fits on big (1 left) nor small (1): unschedulable
    await client.create(make_pod("p2", "2"))

    async def unschedulable() -> bool:
        pod = await client.get(pod_pb2.Pod, "p2", "default")
        return any(
            c.type == "PodScheduled"
            and c.status == "False"
            and "0/2 nodes are available" in c.message
            and "Insufficient cpu" in c.message
            for c in pod.status.conditions
        )

    await eventually(unschedulable, "PodScheduled=False")

    async def event() -> bool:
        evs = (await client.list(event_pb2.Event, "default")).items
        return any(e.reason == "FailedScheduling" and e.involved_object.name == "p2" for e in evs)

    await eventually(event, "FailedScheduling event")
    # a new node that fits unblocks it without waiting for the full backoff
    third = f"third-{uuid.uuid4().hex[:4]}"
    await add_node(client, third, "2")
    assert await eventually(lambda: node_of(client, "p2"), "p2 bound") == third


async def test_node_selector_respected(client: ApiClient, scheduler: SchedulerApp) -> None:
    a, b = f"a-{uuid.uuid4().hex[:4]}", f"b-{uuid.uuid4().hex[:4]}"
    await add_node(client, a, "4", {"disk": "hdd"})
    await add_node(client, b, "4", {"disk": "ssd"})
    for i in range(3):
        await client.create(make_pod(f"ssd-{i}", "100m", {"disk": "ssd"}))
    for i in range(3):
        assert await eventually(lambda i=i: node_of(client, f"ssd-{i}"), "bound") == b
