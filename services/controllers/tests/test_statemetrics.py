"""kube-state-metrics' series from the controller-manager's caches, against a real apiserver."""

from __future__ import annotations

import uuid

import pytest
from nodes_testlib import add_node, bare_pod
from prometheus_client import REGISTRY
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_controllers.app import ControllerManager

pytestmark = pytest.mark.etcd


def sample(name: str, labels: dict[str, str]) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


async def test_nodes_and_pods_appear_as_kube_state_metrics_series(client: ApiClient) -> None:
    node = f"ksm-{uuid.uuid4().hex[:6]}"
    await add_node(client, node, ready="False")
    pod = await client.create(bare_pod(f"p-{node}", node=node))
    pod.status.phase = "Running"
    pod.status.container_statuses.add(name="c", restart_count=3).state.waiting.reason = "CrashLoopBackOff"
    await client.update_status(pod)
    manager = ControllerManager(client, [], state_metrics=True)
    await manager.start()
    try:
        await manager.ctx.factory.wait_synced()

        async def seen() -> bool:
            return sample("kube_node_status_condition", {"node": node, "condition": "Ready", "status": "false"}) == 1

        await eventually(seen, "the node's Ready=False condition as a series")
        assert sample("kube_node_status_condition", {"node": node, "condition": "Ready", "status": "true"}) == 0
        labels = {"namespace": "default", "pod": pod.metadata.name}
        assert sample("kube_pod_status_phase", {**labels, "phase": "Running"}) == 1
        assert sample("kube_pod_status_phase", {**labels, "phase": "Pending"}) == 0
        assert sample("kube_pod_container_status_restarts_total", {**labels, "container": "c"}) == 3
        reason = {**labels, "container": "c", "reason": "CrashLoopBackOff"}
        assert sample("kube_pod_container_status_waiting_reason", reason) == 1
    finally:
        await manager.stop()
    # A manager that stopped leading exports nothing (a standby's caches are not running).
    assert sample("kube_node_info", {"node": node}) is None
