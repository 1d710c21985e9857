"""The CLI's tables match kubectl's columns and wording."""

from __future__ import annotations

import time

import pytest
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_cli.printers import age, pod_status, table


def make_pod(
    name: str, phase: str = "Running", *, ready: bool = True, waiting: str = "", ip: str = "10.88.0.5"
) -> pod_pb2.Pod:
    pod = pod_pb2.Pod()
    pod.metadata.name = name
    pod.metadata.namespace = "default"
    pod.metadata.creation_timestamp.seconds = int(time.time()) - 125
    pod.spec.node_name = "node-1"
    pod.spec.containers.add(name="main", image="busybox")
    pod.status.phase = phase
    pod.status.pod_ip = ip
    cs = pod.status.container_statuses.add(name="main", ready=ready, restart_count=2)
    if waiting:
        cs.state.waiting.reason = waiting
    return pod


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(5, "5s"), (59, "59s"), (60, "1m"), (125, "2m5s"), (600, "10m"), (7200, "2h"), (3 * 86400, "3d")],
)
def test_age(seconds: int, expected: str) -> None:
    pod = pod_pb2.Pod()
    pod.metadata.creation_timestamp.seconds = int(time.time()) - seconds
    assert age(pod) == expected


def test_status_prefers_waiting_reason_and_terminating() -> None:
    assert pod_status(make_pod("a", "Pending", waiting="ContainerCreating")) == "ContainerCreating"
    deleting = make_pod("b")
    deleting.metadata.deletion_timestamp.seconds = 1
    assert pod_status(deleting) == "Terminating"


def test_pod_table_wide() -> None:
    out = table("Pod", [make_pod("web-1"), make_pod("web-2", ready=False)], wide=True)
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE"]
    assert lines[1].split() == ["web-1", "1/1", "Running", "2", "2m5s", "10.88.0.5", "node-1"]
    assert lines[2].split()[1] == "0/1"


def test_node_table_and_namespace_column() -> None:
    node = node_pb2.Node()
    node.metadata.name = "node-1"
    node.status.conditions.add(type="Ready", status="True")
    node.status.node_info.kubelet_version = "v0.1.0"
    assert table("Node", [node]).splitlines()[1].split()[:2] == ["node-1", "Ready"]
    out = table("Pod", [make_pod("x")], with_namespace=True)
    assert out.splitlines()[0].split()[0] == "NAMESPACE"
    assert out.splitlines()[1].split()[0] == "default"


def test_replicaset_and_service_columns() -> None:
    from skiff.api.apps.v1 import apps_pb2
    from skiff.api.core.v1 import service_pb2

    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "web"
    rs.spec.replicas = 3
    rs.status.replicas, rs.status.ready_replicas = 3, 2
    assert table("ReplicaSet", [rs]).splitlines()[1].split()[:4] == ["web", "3", "3", "2"]
    svc = service_pb2.Service()
    svc.metadata.name = "api"
    svc.spec.cluster_ip = "10.96.0.10"
    svc.spec.ports.add(port=80, protocol="TCP")
    lines = table("Service", [svc]).splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert lines[1].split()[:5] == ["api", "ClusterIP", "10.96.0.10", "<none>", "80/TCP"]


def test_daemonset_columns_are_kubectls() -> None:
    from skiff.api.apps.v1 import apps_pb2

    ds = apps_pb2.DaemonSet()
    ds.metadata.name = "fluentd"
    ds.spec.template.spec.node_selector["disk"] = "ssd"
    ds.spec.selector.match_labels["name"] = "fluentd"
    ds.spec.template.spec.containers.add(name="f", image="busybox")
    st = ds.status
    st.desired_number_scheduled, st.current_number_scheduled, st.number_ready = 3, 3, 2
    st.updated_number_scheduled, st.number_available = 1, 2
    lines = table("DaemonSet", [ds], wide=True).splitlines()
    assert [h.strip() for h in lines[0].split("  ") if h.strip()][:7] == [
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "NODE SELECTOR",
    ]
    assert lines[1].split()[:7] == ["fluentd", "3", "3", "2", "1", "2", "disk=ssd"]
    assert lines[1].split()[-3:] == ["f", "busybox", "name=fluentd"]
