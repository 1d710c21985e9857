"""Node lifecycle against a real apiserver: the test plays the kubelet (status heartbeats, Lease
renewals) for fake Node objects; a short grace period stands in for the default 40 s."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from nodes_testlib import add_node, bare_pod, post_status, running
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import event_pb2, node_pb2, pod_pb2, scheduling_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.events import now_timestamp
from skiff_cluster_fixture import eventually
from skiff_controllers.nodelifecycle.controller import NodeLifecycleController

pytestmark = pytest.mark.etcd

GRACE = 1.5
UR, NR = "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"


@pytest.fixture
async def nlc(client: ApiClient) -> AsyncIterator[NodeLifecycleController]:
    async with running(client, lambda ctx: NodeLifecycleController(ctx, grace_period=GRACE)) as c:
        yield c


def taint_keys(node: node_pb2.Node) -> set[tuple[str, str]]:
    return {(t.key, t.effect) for t in node.spec.taints}


async def events_for(client: ApiClient, name: str, reason: str) -> list[event_pb2.Event]:
    evs = (await client.list(event_pb2.Event, "")).items
    return [e for e in evs if e.involved_object.name == name and e.reason == reason]


async def test_silent_node_goes_unknown_gets_tainted_evicts_and_comes_back(
    client: ApiClient, nlc: NodeLifecycleController
) -> None:
    name = f"node-{uuid.uuid4().hex[:6]}"
    await add_node(client, name)
    T = scheduling_pb2.Toleration
    quick = bare_pod(f"quick-{name}", node=name)
    quick.spec.tolerations.append(T(key=UR, operator="Exists", effect="NoExecute", toleration_seconds=1))
    forever = bare_pod(f"forever-{name}", node=name)
    forever.spec.tolerations.append(T(key=UR, operator="Exists", effect="NoExecute"))
    patient = bare_pod(f"patient-{name}", node=name)  # admission gives it 300 s
    for p in (quick, forever, patient):
        created = await client.create(p)
        created.status.phase = "Running"
        created.status.conditions.add(type="Ready", status="True")
        await client.update_status(created)
    # The kubelet falls silent: Ready goes Unknown with Kubernetes' reason and message.

    async def unknown() -> node_pb2.Node | None:
        n = await client.get(node_pb2.Node, name)
        ready = next(c for c in n.status.conditions if c.type == "Ready")
        return n if ready.status == "Unknown" else None

    n = await eventually(unknown, "Ready=Unknown")
    ready = next(c for c in n.status.conditions if c.type == "Ready")
    assert (ready.reason, ready.message) == ("NodeStatusUnknown", "Kubelet stopped posting node status.")

    async def tainted() -> bool:
        return taint_keys(await client.get(node_pb2.Node, name)) >= {(UR, "NoExecute"), (UR, "NoSchedule")}

    await eventually(tainted, "unreachable taints")

    async def deleting(pod_name: str) -> bool:
        return (await client.get(pod_pb2.Pod, pod_name, "default")).metadata.HasField("deletion_timestamp")

    await eventually(lambda: deleting(quick.metadata.name), "the pod with 1 s toleration evicted")
    await eventually(lambda: events_for(client, quick.metadata.name, "TaintManagerEviction"), "eviction event")
    await eventually(lambda: events_for(client, name, "NodeNotReady"), "NodeNotReady event")

    async def marked_not_ready() -> bool:
        pod = await client.get(pod_pb2.Pod, patient.metadata.name, "default")
        return any(c.type == "Ready" and c.status == "False" for c in pod.status.conditions)

    await eventually(marked_not_ready, "pods on the lost node marked not ready")
    assert not await deleting(forever.metadata.name)
    assert not await deleting(patient.metadata.name)
    # The kubelet comes back: the taints go.
    await post_status(client, name, "True")

    async def untainted() -> bool:
        return not taint_keys(await client.get(node_pb2.Node, name))

    await eventually(untainted, "taints removed when the kubelet is back")
    assert not await deleting(patient.metadata.name)


async def test_not_ready_node_gets_not_ready_taints(client: ApiClient, nlc: NodeLifecycleController) -> None:
    name = f"sick-{uuid.uuid4().hex[:6]}"
    await add_node(client, name, ready="False")

    async def tainted() -> bool:
        return taint_keys(await client.get(node_pb2.Node, name)) == {(NR, "NoExecute"), (NR, "NoSchedule")}

    await eventually(tainted, "not-ready taints")


async def test_a_renewed_lease_keeps_the_node_ready(client: ApiClient, nlc: NodeLifecycleController) -> None:
    name = f"leased-{uuid.uuid4().hex[:6]}"
    await add_node(client, name)
    lease = await client.create(
        lease_pb2.Lease(
            api_version="coordination.k8s.io/v1",
            kind="Lease",
            metadata=meta_pb2.ObjectMeta(name=name, namespace="kube-node-lease"),
        )
    )
    # Renew only the Lease (no status) for several grace periods: the node must stay Ready.
    loop = asyncio.get_running_loop()
    end = loop.time() + 3 * GRACE
    while loop.time() < end:
        lease.spec.renew_time.CopyFrom(now_timestamp())
        lease.spec.renew_time.nanos = int(loop.time() * 1e9) % 1_000_000_000  # distinct within a second
        lease = await client.update(lease)
        await asyncio.sleep(GRACE / 4)
    n = await client.get(node_pb2.Node, name)
    assert next(c.status for c in n.status.conditions if c.type == "Ready") == "True"
    assert not taint_keys(n)
    # ... and when the Lease stops too, it goes Unknown.

    async def unknown() -> bool:
        n = await client.get(node_pb2.Node, name)
        return next(c.status for c in n.status.conditions if c.type == "Ready") == "Unknown"

    await eventually(unknown, "Ready=Unknown once the Lease stops")
