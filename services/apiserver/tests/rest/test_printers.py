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
