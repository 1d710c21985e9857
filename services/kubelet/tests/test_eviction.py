"""Node pressure and eviction: threshold flags and the ranking as tables (Kubernetes' defaults, syntax
and order), then on real parts a kubelet whose memory threshold is always met reports MemoryPressure and
evicts its pod (Failed, Evicted, Kubernetes' message), whose containers then stop."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_kubelet import labels as L
from skiff_kubelet.app import Kubelet
from skiff_kubelet.eviction.ranking import Candidate, message, rank
from skiff_kubelet.eviction.thresholds import DEFAULT_HARD, Threshold, parse
from test_e2e import busybox_pod, kubelet_config


def test_default_thresholds_are_the_kubelets() -> None:
    assert parse(DEFAULT_HARD) == [
        Threshold("memory.available", quantity=100 * 1024 * 1024),
        Threshold("nodefs.available", percentage=0.10),
        Threshold("imagefs.available", percentage=0.15),
        Threshold("nodefs.inodesFree", percentage=0.05),
    ]


def test_soft_thresholds_need_and_take_a_grace_period() -> None:
    (t,) = parse("", "memory.available<1Gi", "memory.available=1m30s")
    assert t == Threshold("memory.available", quantity=1 << 30, grace_period=90.0, soft=True)
    assert t.value(8 << 30) == 1 << 30
    assert Threshold("nodefs.available", percentage=0.1).value(1000) == 100


@pytest.mark.parametrize(
    ("hard", "soft", "grace", "error"),
    [
        ("memory.free<1Gi", "", "", "--eviction-hard: 'memory.free<1Gi'"),
        ("memory.available>1Gi", "", "", "--eviction-hard"),
        ("nodefs.available<120%", "", "", "invalid quantity or percentage '120%'"),
        ("memory.available<lots", "", "", "invalid quantity or percentage 'lots'"),
        ("", "memory.available<1Gi", "", "needs a grace period"),
        ("", "memory.available<1Gi", "memory.available=soon", "--eviction-soft-grace-period: invalid duration"),
    ],
)
def test_bad_flags_name_the_flag(hard: str, soft: str, grace: str, error: str) -> None:
    with pytest.raises(ValueError, match=error.replace("(", r"\(").replace("[", r"\[")):
        parse(hard, soft, grace)


def candidate(name: str, usage: int, request: str = "", priority: int = 0) -> Candidate:
    pod = pod_pb2.Pod()
    pod.metadata.name = name
    pod.spec.priority = priority
    c = pod.spec.containers.add(name="main")
    if request:
        c.resources.requests["memory"].value = request
    return Candidate(pod, usage, {"main": usage})


def test_memory_ranking_is_kubernetes_order() -> None:
    """Over its request before within it, then lower priority, then more usage above the request;
    critical pods never."""
    pods = [
        candidate("within", 50 << 20, "100Mi"),
        candidate("over-high-priority", 200 << 20, "100Mi", priority=1000),
        candidate("over-small", 120 << 20, "100Mi"),
        candidate("over-big", 300 << 20, "100Mi"),
        candidate("critical", 900 << 20, priority=2_000_000_000),
    ]
    assert [c.pod.metadata.name for c in rank(pods, "memory")] == [
        "over-big", "over-small", "over-high-priority", "within",
    ]  # fmt: skip


def test_eviction_message() -> None:
    text = message("memory", 100 << 20, 50 << 20, candidate("p", 200 << 20, "100Mi"))
    assert text == (
        "The node was low on resource: memory. Threshold quantity: 102400Ki, available: 51200Ki. "
        "Container main was using 204800Ki, request is 100Mi, has larger consumption of memory. "
    )


@pytest.mark.root
@pytest.mark.etcd
async def test_memory_pressure_evicts(client: ApiClient, apiserver: Any, runtime: Any, tmp_path: Path) -> None:
    cfg = kubelet_config(
        apiserver, runtime, tmp_path,
        eviction_hard="memory.available<100000Gi",  # always met: the node is "out of memory"
        eviction_monitoring_interval="0.5s",
    )  # fmt: skip
    kubelet = Kubelet(cfg)
    await kubelet.start()
    try:
        name = f"victim-{uuid.uuid4().hex[:6]}"
        pod = busybox_pod(name, "exec sleep 300")
        pod.spec.node_name = cfg.node_name
        await client.create(pod)

        async def evicted() -> pod_pb2.Pod | None:
            got = await client.get(pod_pb2.Pod, name, "default")
            return got if got.status.reason == "Evicted" else None

        got = await eventually(evicted, "the pod evicted")
        assert got.status.phase == "Failed"
        assert got.status.message.startswith("The node was low on resource: memory. Threshold quantity: 104857600000Ki")
        assert any(c.type == "DisruptionTarget" and c.reason == "TerminationByKubelet" for c in got.status.conditions)

        async def pressure() -> node_pb2.Node | None:
            node = await client.get(node_pb2.Node, cfg.node_name)
            conds = {c.type: (c.status, c.reason) for c in node.status.conditions}
            return node if conds.get("MemoryPressure") == ("True", "KubeletHasInsufficientMemory") else None

        node = await eventually(pressure, "MemoryPressure on the node")
        assert {c.type: c.status for c in node.status.conditions}["DiskPressure"] == "False"

        async def stopped() -> bool:
            resp = await kubelet.cri.runtime.ListContainers(cri.ListContainersRequest())
            mine = [c for c in resp.containers if c.labels.get(L.POD_UID) == got.metadata.uid]
            return bool(mine) and all(c.state != cri.CONTAINER_RUNNING for c in mine)

        await eventually(stopped, "the evicted pod's containers stopped")
        await client.delete(pod_pb2.Pod, name, "default")
    finally:
        await kubelet.stop()
