"""The kubelet's two heartbeats against a real etcd + apiserver: the kube-node-lease Lease (lease.py) and
the Node status written only on change; registration with the not-ready:NoSchedule taint, which the real
node lifecycle controller removes once the node is Ready."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.base import ControllerContext
from skiff_controllers.nodelifecycle.controller import NodeLifecycleController
from skiff_kubelet.app import Kubelet
from skiff_kubelet.lease import LEASE_NAMESPACE, NodeLease
from skiff_kubelet.node_status import NOT_READY_TAINT
from test_e2e import kubelet_config

pytestmark = pytest.mark.etcd


async def _lease(client: ApiClient, name: str) -> lease_pb2.Lease | None:
    try:
        return await client.get(lease_pb2.Lease, name, LEASE_NAMESPACE)
    except errors.NotFound:
        return None


async def test_lease_is_created_owned_by_the_node_renewed_and_recreated(client: ApiClient) -> None:
    name = f"leaser-{uuid.uuid4().hex[:6]}"
    node = await client.create(node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name)))
    renewer = NodeLease(client, name, interval=0.2)
    task = asyncio.create_task(renewer.run())
    try:
        first = await eventually(lambda: _lease(client, name), "the node's Lease")
        assert first.spec.holder_identity == name
        assert first.spec.lease_duration_seconds == 40
        assert [(o.kind, o.name, o.uid) for o in first.metadata.owner_references] == [("Node", name, node.metadata.uid)]

        async def renewed() -> bool:
            lease = await _lease(client, name)
            return lease is not None and lease.spec.renew_time != first.spec.renew_time

        await eventually(renewed, "a renewal moving renewTime")

        # Deleted behind its back (an admin, or the GC after a Node re-creation): it comes back.
        await client.delete(lease_pb2.Lease, name, LEASE_NAMESPACE)
        await eventually(lambda: _lease(client, name), "the Lease re-created")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.delete(node_pb2.Node, name)


async def test_lease_made_before_the_node_gets_its_owner_later(client: ApiClient) -> None:
    name = f"early-{uuid.uuid4().hex[:6]}"
    renewer = NodeLease(client, name)
    lease = await renewer.renew()
    assert not lease.metadata.owner_references
    node = await client.create(node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name)))
    lease = await renewer.renew()
    assert [o.uid for o in lease.metadata.owner_references] == [node.metadata.uid]
    await client.delete(node_pb2.Node, name)


@pytest.mark.root
async def test_kubelet_registers_tainted_until_node_lifecycle_sees_it_ready(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    kubelet = Kubelet(kubelet_config(apiserver, runtime, tmp_path, node_status_report_frequency="1h"))
    await kubelet.start()
    name = kubelet.cfg.node_name
    try:
        node = await client.get(node_pb2.Node, name)
        # Created with its status and the registration taint, before any controller ran.
        assert {c.type: c.status for c in node.status.conditions}["Ready"] == "True"
        assert [(t.key, t.effect) for t in node.spec.taints] == [(NOT_READY_TAINT, "NoSchedule")]
        await eventually(lambda: _lease(client, name), "the kubelet's Lease")

        # An unchanged status is not written again (the Lease says the node is alive) ...
        before = await client.get(node_pb2.Node, name)
        again = await kubelet.node_status.heartbeat()
        assert again.metadata.resource_version == before.metadata.resource_version
        # ... but a status that differs from the kubelet's view (the node lifecycle controller marked it
        # Unknown while the kubelet was away) is put right on the next check.
        for c in before.status.conditions:
            if c.type == "Ready":
                c.status, c.reason = "Unknown", "NodeStatusUnknown"
        await client.update_status(before)
        fixed = await kubelet.node_status.heartbeat()
        assert {c.type: c.status for c in fixed.status.conditions}["Ready"] == "True"
        assert fixed.metadata.resource_version != before.metadata.resource_version

        ctx = ControllerContext(api=client, factory=InformerFactory(client), events=EventRecorder(client, "test"))
        nlc = NodeLifecycleController(ctx)
        ctx.factory.start()
        task = asyncio.create_task(nlc.run())
        try:

            async def untainted() -> bool:
                n = await client.get(node_pb2.Node, name)
                return not any(t.key == NOT_READY_TAINT for t in n.spec.taints)

            await eventually(untainted, "the not-ready taint removed once Ready")
        finally:
            nlc.queue.shutdown()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await ctx.factory.stop()
            await ctx.events.flush()
    finally:
        await kubelet.stop()
        await client.delete(node_pb2.Node, name)


async def test_a_kubelet_started_before_its_runtime_reports_ready_as_soon_as_the_runtime_is(
    client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path
) -> None:
    """A joining node starts its kubelet beside its runtime: registered NotReady while the runtime does not
    answer, Ready once it does, without waiting for a status interval (here an hour)."""
    late = tmp_path / "late-cri.sock"  # the runtime "appears" there later: a link to the real socket
    cfg = kubelet_config(apiserver, runtime, tmp_path, node_status_interval="1h", node_status_report_frequency="1h")
    cfg.runtime_endpoint = f"unix://{late}"
    kubelet = Kubelet(cfg)
    task = asyncio.create_task(kubelet.start())
    name = cfg.node_name
    try:

        async def ready_status() -> str | None:
            try:
                node = await client.get(node_pb2.Node, name)
            except errors.NotFound:
                return None
            return {c.type: c.status for c in node.status.conditions}.get("Ready")

        assert await eventually(ready_status, "the Node registered") == "False"
        late.symlink_to(runtime.endpoint.removeprefix("unix://"))

        async def ready() -> bool:
            return await ready_status() == "True"

        await eventually(ready, "the Node Ready once its runtime answers")
    finally:
        await task
        await kubelet.stop()
        await client.delete(node_pb2.Node, name)
