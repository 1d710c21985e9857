import pytest
from helpers import info, make_node, make_pod
from skiff_scheduler.framework import Code
from skiff_scheduler.plugins.node_resources import LeastAllocated, NodeResourcesFit, pod_requests

GI = 1024**3


@pytest.mark.parametrize(
    ("pod_kw", "used_cpu", "used_mem", "n_pods", "code", "reason"),
    [
        ({"cpu": "1", "memory": "1Gi"}, 0, 0, 0, Code.SUCCESS, None),
        ({"cpu": "4"}, 0, 0, 0, Code.SUCCESS, None),  # exactly fits
        ({"cpu": "4001m"}, 0, 0, 0, Code.UNSCHEDULABLE, "Insufficient cpu"),
        ({"cpu": "500m"}, 3600, 0, 0, Code.UNSCHEDULABLE, "Insufficient cpu"),  # minus pods already bound
        ({"memory": "1Gi"}, 0, 7 * GI + 1, 0, Code.UNSCHEDULABLE, "Insufficient memory"),
        ({}, 4000, 8 * GI, 0, Code.SUCCESS, None),  # best effort always fits resources
        ({}, 0, 0, 110, Code.UNSCHEDULABLE, "Too many pods"),
        ({"cpu": "1", "init_cpu": "5"}, 0, 0, 0, Code.UNSCHEDULABLE, "Insufficient cpu"),  # init max counts
    ],
)
def test_fit(pod_kw: dict, used_cpu: int, used_mem: int, n_pods: int, code: Code, reason: str | None) -> None:
    node_info = info(
        make_node(cpu="4", memory="8Gi", pods="110"),
        [make_pod(f"x{i}") for i in range(n_pods)],
        used_cpu,
        used_mem,
    )
    status = NodeResourcesFit().filter(make_pod(**pod_kw), node_info)
    assert status.code == code
    if reason:
        assert reason in status.reasons


def test_pod_requests_takes_max_of_init_and_sum() -> None:
    assert pod_requests(make_pod(cpu="250m", memory="64Mi")) == (250, 64 * 1024**2)
    assert pod_requests(make_pod(cpu="250m", init_cpu="1")) == (1000, 0)


@pytest.mark.parametrize(
    ("used_cpu", "used_mem", "expected"),
    [
        (0, 0, 97),  # the best-effort pod itself counts as 100m / 200Mi
        (2000, 4 * GI, 47),
        (4000, 8 * GI, 0),
        (1000, 0, 84),  # (72 + 97) // 2
    ],
)
def test_least_allocated(used_cpu: int, used_mem: int, expected: int) -> None:
    score = LeastAllocated().score(make_pod(), info(make_node(cpu="4", memory="8Gi"), [], used_cpu, used_mem))
    assert score == expected


def test_least_allocated_prefers_emptier_node() -> None:
    pod = make_pod(cpu="1")
    empty = LeastAllocated().score(pod, info(make_node("a"), [], 0, 0))
    busy = LeastAllocated().score(pod, info(make_node("b"), [], 2000, 0))
    assert empty > busy


def test_best_effort_pods_spread() -> None:
    pod = make_pod()  # no requests at all
    empty = LeastAllocated().score(pod, info(make_node("a")))
    with_one = info(make_node("b"), [make_pod("x")])
    with_one.nonzero_milli_cpu, with_one.nonzero_memory = 100, 200 * 1024**2
    assert empty > LeastAllocated().score(pod, with_one)
