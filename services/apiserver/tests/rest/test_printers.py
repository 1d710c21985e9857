"""Table printers: Kubernetes' human durations and the pod STATUS rules (pure logic)."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.rest.printers import core, wants_table
from skiff_apiserver.rest.printers.common import human_duration


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "<invalid>"), (0, "0s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
     (9 * 3600, "9h"), (50 * 3600, "2d2h"), (30 * 86400, "30d"), (800 * 86400, "2y70d")],
)  # fmt: skip
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def _pod(**status: object) -> pod_pb2.Pod:
    p = pod_pb2.Pod()
    p.metadata.name = "p"
    p.spec.containers.add(name="c")
    p.status.phase = str(status.get("phase", "Running"))
    cs = p.status.container_statuses.add(name="c")
    if "waiting" in status:
        cs.state.waiting.reason = str(status["waiting"])
    if "exit" in status:
        cs.state.terminated.exit_code = int(status["exit"])  # type: ignore[call-overload]
    return p


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        (_pod(phase="Pending"), "Pending"),
        (_pod(waiting="CrashLoopBackOff"), "CrashLoopBackOff"),
        (_pod(exit=3), "ExitCode:3"),
    ],
)
def test_pod_status_column(pod: pod_pb2.Pod, expected: str) -> None:
    assert core.pod_cells(pod)[2] == expected


def test_terminating_pod() -> None:
    p = _pod()
    p.metadata.deletion_timestamp.seconds = 1
    assert core.pod_cells(p)[2] == "Terminating"


@pytest.mark.parametrize(
    ("accept", "table"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            True,
        ),
        ("application/json", False),
        ("", False),
    ],
)
def test_wants_table(accept: str, table: bool) -> None:
    assert wants_table(accept) is table


def _varied_pods() -> list[pod_pb2.Pod]:
    """Pods that take every branch of the pod row: init containers, restarts, ready, unsaved (no uid)."""
    running = _pod()
    running.status.container_statuses[0].ready = True
    running.status.container_statuses[0].state.running.started_at.seconds = 1_700_000_000
    running.status.container_statuses[0].restart_count = 2
    running.status.container_statuses[0].last_state.terminated.finished_at.seconds = 1_700_000_500
    running.status.pod_ip, running.spec.node_name = "10.0.0.7", "n1"
    init = _pod(phase="Pending")
    init.spec.init_containers.add(name="i")
    init.status.init_container_statuses.add(name="i").state.waiting.reason = "ImagePullBackOff"
    pods = [running, init, _pod(phase="Pending"), _pod(waiting="CrashLoopBackOff"), _pod(exit=3)]
    for i, p in enumerate(pods):
        p.metadata.name, p.metadata.namespace = f"p{i}", "default"
        p.metadata.uid, p.metadata.resource_version = f"uid-{i}", str(10 + i)
        p.metadata.creation_timestamp.seconds = 1_700_000_000 - i
        p.metadata.labels["app"] = "x"
    pods[-1].metadata.uid = ""  # never cached
    return pods


@pytest.mark.parametrize("include", ["Metadata", "None", "Object"])
def test_cached_table_is_the_table_as_json(monkeypatch: pytest.MonkeyPatch, include: str) -> None:
    """The cached list Table is byte for byte json.dumps of printers.table, hit or miss, and a new
    resourceVersion of an object is a new row object."""
    import json
    import time

    from skiff_apiserver.rest.printers import table
    from skiff_apiserver.rest.printers.cache import TableCache

    monkeypatch.setattr(time, "time", lambda: 1_700_003_600.0)
    pods, meta = _varied_pods(), {"resourceVersion": "42", "continue": "abc"}
    cache = TableCache(size=3)

    def expected() -> bytes:
        return json.dumps(table("Pod", pods, meta, include), separators=(",", ":"), ensure_ascii=False).encode()

    assert cache.body("Pod", pods, meta, include) == expected()
    assert cache.body("Pod", pods, meta, include) == expected()  # from the cache
    pods[0].metadata.resource_version, pods[0].metadata.labels["app"] = "99", "y"
    assert cache.body("Pod", pods, meta, include) == expected()
    assert json.loads(cache.body("Pod", pods[:2], meta, include))["rows"][1]["cells"][:4] == [
        "p1", "0/1", "Init:ImagePullBackOff", "0",
    ]  # fmt: skip
    assert (
        cache.body("Lease", [], meta, include)
        == json.dumps(  # the default printer, no rows
            table("Lease", [], meta, include), separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
