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
    [
        (5, "5s"),
        (59, "59s"),
        (60, "60s"),  # kubectl's HumanDuration stays in seconds below 2 minutes
        (125, "2m5s"),
        (600, "10m"),
        (7200, "120m"),
        (3 * 3600 + 1200, "3h20m"),
        (9 * 3600, "9h"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (3 * 86400, "3d"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400 + 10 * 86400, "3y10d"),
    ],
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


def _ago(ts, seconds: int) -> None:  # type: ignore[no-untyped-def]
    ts.seconds = int(time.time()) - seconds


def _lines(text: str) -> list[list[str]]:
    import re

    return [re.split(r"\s{3,}", line.strip()) for line in text.splitlines()]


def test_workload_tables_have_kubectls_columns() -> None:
    from skiff.api.apps.v1 import apps_pb2

    d = apps_pb2.Deployment()
    d.metadata.name = "nginx-deployment"
    _ago(d.metadata.creation_timestamp, 30)
    d.spec.replicas = 3
    d.spec.selector.match_labels["app"] = "nginx"
    d.spec.template.spec.containers.add(name="nginx", image="busybox")
    d.status.ready_replicas, d.status.updated_replicas, d.status.available_replicas = 2, 3, 2
    assert _lines(table("Deployment", [d])) == [
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        ["nginx-deployment", "2/3", "3", "2", "30s"],
    ]
    assert _lines(table("Deployment", [d], wide=True))[1][-3:] == ["nginx", "busybox", "app=nginx"]

    rs = apps_pb2.ReplicaSet()
    rs.metadata.name = "nginx-deployment-5fdbf64889"
    _ago(rs.metadata.creation_timestamp, 30)
    rs.spec.replicas = 3
    rs.status.replicas, rs.status.ready_replicas = 3, 1
    assert _lines(table("ReplicaSet", [rs]))[1] == ["nginx-deployment-5fdbf64889", "3", "3", "1", "30s"]

    ds = apps_pb2.DaemonSet()
    ds.metadata.name = "fluentd"
    _ago(ds.metadata.creation_timestamp, 30)
    st = ds.status
    st.desired_number_scheduled, st.current_number_scheduled, st.number_ready = 2, 2, 1
    st.updated_number_scheduled, st.number_available = 2, 1
    assert _lines(table("DaemonSet", [ds])) == [
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        ["fluentd", "2", "2", "1", "2", "1", "<none>", "30s"],
    ]
    ds.spec.template.spec.node_selector["kubernetes.io/os"] = "linux"
    assert _lines(table("DaemonSet", [ds]))[1][6] == "kubernetes.io/os=linux"


@pytest.mark.parametrize(
    ("completions", "parallelism", "conditions", "expected_status", "expected_completions"),
    [
        (5, None, [], "Running", "2/5"),
        (None, None, [("Complete", "True")], "Complete", "2/1"),
        (None, 3, [("Failed", "True")], "Failed", "2/1 of 3"),
        (None, 1, [("Suspended", "True")], "Suspended", "2/1"),
        (4, None, [("Complete", "False")], "Running", "2/4"),
    ],
)
def test_job_status_and_completions(
    completions: int | None,
    parallelism: int | None,
    conditions: list[tuple[str, str]],
    expected_status: str,
    expected_completions: str,
) -> None:
    from skiff.api.batch.v1 import batch_pb2

    job = batch_pb2.Job()
    job.metadata.name = "pi"
    _ago(job.metadata.creation_timestamp, 200)
    if completions is not None:
        job.spec.completions = completions
    if parallelism is not None:
        job.spec.parallelism = parallelism
    job.status.succeeded = 2
    for type_, status in conditions:
        job.status.conditions.add(type=type_, status=status)
    _ago(job.status.start_time, 200)
    _ago(job.status.completion_time, 75)
    lines = _lines(table("Job", [job]))
    assert lines[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert lines[1] == ["pi", expected_status, expected_completions, "2m5s", "3m20s"]


def test_cronjob_columns() -> None:
    from skiff.api.batch.v1 import batch_pb2

    cj = batch_pb2.CronJob()
    cj.metadata.name = "hello"
    _ago(cj.metadata.creation_timestamp, 600)
    cj.spec.schedule = "* * * * *"
    cj.spec.suspend = False
    cj.status.active.add(name="hello-29000000")
    _ago(cj.status.last_schedule_time, 20)
    assert _lines(table("CronJob", [cj])) == [
        ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
        ["hello", "* * * * *", "<none>", "False", "1", "20s", "10m"],
    ]
    cj.spec.time_zone = "Etc/UTC"
    cj.status.ClearField("last_schedule_time")
    assert _lines(table("CronJob", [cj]))[1][2:6] == ["Etc/UTC", "False", "1", "<none>"]


def test_event_columns() -> None:
    from skiff.api.core.v1 import event_pb2

    ev = event_pb2.Event(type="Normal", reason="ScalingReplicaSet", count=4)
    ev.metadata.name = "nginx-deployment.1234"
    ev.involved_object.kind = "Deployment"
    ev.involved_object.name = "nginx-deployment"
    ev.message = "Scaled up replica set nginx-deployment-5fdbf64889 from 0 to 3 "
    ev.source.component = "deployment-controller"
    _ago(ev.first_timestamp, 300)
    _ago(ev.last_timestamp, 40)
    assert _lines(table("Event", [ev])) == [
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        [
            "40s",
            "Normal",
            "ScalingReplicaSet",
            "deployment/nginx-deployment",
            "Scaled up replica set nginx-deployment-5fdbf64889 from 0 to 3",
        ],
    ]
    wide = _lines(table("Event", [ev], wide=True))
    assert wide[0][-3:] == ["FIRST SEEN", "COUNT", "NAME"] and wide[1][-3:] == ["5m", "4", "nginx-deployment.1234"]
