# ruff: noqa: E501 - one upstream case per table row
"""Kubernetes' replica calculator cases (pkg/controller/podautoscaler/replica_calculator_test.go),
translated: each row is one TestReplicaCalc* case with its pods, metric levels and expectations.
Metric levels are millicores (Utilization) or milli-units (AverageValue), as upstream's."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff_controllers.horizontalpodautoscaler.replicas import (
    Calculator,
    MetricsError,
    PodMetric,
    plain_replicas,
    resource_replicas,
)

NOW = 1_000_000.0
COOL = NOW - 180  # started 3 minutes ago: inside the CPU initialization period, Ready long enough
HOT = NOW - 1  # just became Ready: its sample may predate readiness


@dataclass
class Case:
    current: int
    expected: int
    levels: list[int]  # metric of pod i (pods without a level have no metric)
    target: int
    utilization: int = 0
    raw: int = 0
    pods: int = 0  # number of pods (default: len(levels))
    requests: list[str] = field(default_factory=list)  # default "1" (one CPU) each
    ready: list[str] = field(default_factory=list)  # "True"/"False" per pod (default True)
    phase: list[str] = field(default_factory=list)
    deleting: list[bool] = field(default_factory=list)
    start: list[float] = field(default_factory=list)
    extra_metrics: list[int] = field(default_factory=list)  # metrics of pods that do not exist


def build(case: Case) -> tuple[list[pod_pb2.Pod], dict[str, PodMetric]]:
    n = case.pods or len(case.levels)
    pods = []
    for i in range(n):
        pod = pod_pb2.Pod()
        pod.metadata.name = f"test-pod-{i}"
        pod.status.phase = case.phase[i] if case.phase else "Running"
        if case.deleting and case.deleting[i]:
            pod.metadata.deletion_timestamp.FromSeconds(int(NOW))
        start = case.start[i] if case.start else COOL
        pod.status.start_time.FromSeconds(int(start))
        cond = pod.status.conditions.add(type="Ready", status=case.ready[i] if case.ready else "True")
        cond.last_transition_time.FromSeconds(int(start))
        c = pod.spec.containers.add(name="c")
        request = case.requests[i] if case.requests else "1"
        if request:  # "" = no request at all
            c.resources.requests["cpu"].value = request
        pods.append(pod)
    metrics = {f"test-pod-{i}": PodMetric(v, NOW, 60) for i, v in enumerate(case.levels)}
    for j, v in enumerate(case.extra_metrics):
        metrics[f"test-pod-{n + j}"] = PodMetric(v, NOW, 60)
    return pods, metrics


UTILIZATION = {
    "ScaleUp": Case(3, 5, [300, 500, 700], 30, 50, 500),
    "ScaleUpUnreadyLessScale": Case(3, 4, [300, 500, 700], 30, 60, 600, ready=["False", "True", "True"]),
    "ScaleUpHotCpuLessScale": Case(3, 4, [300, 500, 700], 30, 60, 600, start=[HOT, COOL, COOL]),
    "ScaleUpUnreadyNoScale": Case(3, 3, [400, 500, 700], 30, 40, 400, ready=["True", "False", "False"]),
    "ScaleHotCpuNoScale": Case(3, 3, [400, 500, 700], 30, 40, 400, start=[COOL, HOT, HOT]),
    "ScaleUpIgnoresFailedPods": Case(
        2, 4, [500, 700, 100, 100], 30, 60, 600, ready=["True", "True", "False", "False"],
        phase=["Running", "Running", "Failed", "Failed"],
    ),
    "ScaleUpIgnoresDeletionPods": Case(
        2, 4, [500, 700, 100, 100], 30, 60, 600, deleting=[False, False, True, True]
    ),
    "ScaleDown": Case(5, 3, [100, 300, 500, 250, 250], 50, 28, 280),
    "ScaleDownIncludeUnreadyPods": Case(
        5, 2, [100, 300, 500, 250, 250], 50, 30, 300, ready=["True", "True", "True", "False", "False"]
    ),
    "ScaleDownExcludeUnscheduledPods": Case(
        5, 1, [100], 50, 10, 100, pods=5, ready=["True", "False", "False", "False", "False"],
        phase=["Running", "Pending", "Pending", "Pending", "Pending"],
    ),
    "ScaleDownIgnoreHotCpuPods": Case(5, 2, [100, 300, 500, 250, 250], 50, 30, 300, start=[COOL, COOL, COOL, HOT, HOT]),
    "Tolerance": Case(3, 3, [1010, 1030, 1020], 100, 102, 1020, requests=["0.9", "1.0", "1.1"]),
    "SuperfluousMetrics": Case(4, 24, [4000, 9500, 3000, 7000], 100, 587, 5875, extra_metrics=[3200, 2000]),
    "MissingMetrics": Case(4, 3, [400, 95], 100, 24, 247, pods=4),
    "MissingMetricsNoChangeEq": Case(2, 2, [1000], 100, 100, 1000, pods=2),
    "MissingMetricsNoChangeGt": Case(2, 2, [1900], 100, 190, 1900, pods=2),
    "MissingMetricsNoChangeLt": Case(2, 2, [600], 100, 60, 600, pods=2),
    "MissingMetricsUnreadyChange": Case(3, 3, [100, 450], 50, 45, 450, pods=3, ready=["False", "True", "True"]),
    "MissingMetricsUnreadyScaleUp": Case(3, 4, [100, 2000], 50, 200, 2000, pods=3, ready=["False", "True", "True"]),
    "MissingMetricsUnreadyScaleDown": Case(
        4, 3, [100, 100, 100], 50, 10, 100, pods=4, ready=["False", "True", "True", "True"]
    ),
    "DuringRollingUpdateWithMaxSurge": Case(2, 2, [100, 100], 50, 10, 100, pods=3),
}  # fmt: skip


@pytest.mark.parametrize("case", UTILIZATION.values(), ids=UTILIZATION.keys())
def test_resource_utilization(case: Case) -> None:
    pods, metrics = build(case)
    got = resource_replicas(case.current, case.target, "cpu", pods, metrics, Calculator(), NOW)
    assert got == (case.expected, case.utilization, case.raw)


AVERAGE_VALUE = {
    "ScaleUpCM": Case(3, 4, [20000, 10000, 30000], 15000, raw=20000),
    "ScaleUpCMUnreadyHotCpuNoLessScale": Case(3, 6, [50000, 10000, 30000], 15000, raw=30000, ready=["False", "True", "False"]),
    "ScaleDownCM": Case(5, 3, [12000, 12000, 12000, 12000, 12000], 20000, raw=12000),
    "ToleranceCM": Case(3, 3, [20000, 21000, 21000], 20666, raw=20666),
    "MissingMetricsNoChangeEqCM": Case(2, 2, [20000], 20000, raw=20000, pods=2),
}  # fmt: skip


@pytest.mark.parametrize("case", AVERAGE_VALUE.values(), ids=AVERAGE_VALUE.keys())
def test_average_value(case: Case) -> None:
    """Non-CPU metrics: readiness does not matter, only Pending/Failed/deleted pods and missing metrics."""
    pods, metrics = build(case)
    assert plain_replicas(case.current, case.target, "memory", pods, metrics, Calculator(), NOW) == (
        case.expected,
        case.raw,
    )


@pytest.mark.parametrize(
    ("case", "error"),
    [
        (Case(1, 0, [], 100, pods=0), "no pods returned by selector while calculating replica count"),
        (Case(3, 0, [100, 100, 100], 100, ready=["False"] * 3), "did not receive metrics for targeted pods"),
        (Case(1, 0, [100], 100, requests=[""]), "missing request for cpu in container c of Pod test-pod-0"),
        (Case(1, 0, [100], 100, requests=["0"]), "no metrics returned matched known pods"),
    ],
    ids=["NoPods", "AllUnready", "EmptyCPURequest", "ZeroCPURequest"],
)
def test_errors(case: Case, error: str) -> None:
    pods, metrics = build(case)
    with pytest.raises(MetricsError, match=error):
        resource_replicas(case.current, case.target, "cpu", pods, metrics, Calculator(), NOW)


def test_cpu_initialization_period_over() -> None:
    """Past the initialization period, an unready pod that was Ready before counts (its CPU is real);
    one that has never been Ready (readiness flipped within the initial delay) is ignored."""
    case = Case(3, 5, [300, 500, 700], 30, 50, 500, ready=["False", "True", "True"])
    pods, metrics = build(case)
    old = NOW - 600
    pods[0].status.start_time.FromSeconds(int(old))
    pods[0].status.conditions[0].last_transition_time.FromSeconds(int(old + 120))  # was Ready, then not
    assert resource_replicas(3, 30, "cpu", pods, metrics, Calculator(), NOW) == (5, 50, 500)
    pods[0].status.conditions[0].last_transition_time.FromSeconds(int(old + 10))  # never Ready
    assert resource_replicas(3, 30, "cpu", pods, metrics, Calculator(), NOW)[1] == 60
