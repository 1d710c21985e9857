"""NodeResourcesFit (filter and the three scoring strategies), BalancedAllocation, ImageLocality.
Score cases are kube-scheduler's (least_allocated_test.go, most_allocated_test.go,
balanced_allocation_test.go: "nothing scheduled, resources requested, differently sized nodes")."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Cluster, make_node, make_pod, profile
from skiff_scheduler.framework import Code, PodInfo


@pytest.mark.parametrize(
    ("pod", "used", "node_extra", "reasons"),
    [
        (dict(cpu="1", memory="1Gi"), [], {}, ()),
        (dict(cpu="3"), [dict(cpu="2")], {}, ("Insufficient cpu",)),
        (dict(cpu="1", memory="9Gi"), [], {}, ("Insufficient memory",)),
        (dict(cpu="5", memory="9Gi"), [], {}, ("Insufficient cpu", "Insufficient memory")),
        # init containers run one at a time: the effective request is max(sum, largest init)
        (dict(cpu="1", init_cpu="3"), [dict(cpu="1")], {}, ()),
        (dict(cpu="1", init_cpu="4"), [dict(cpu="1")], {}, ("Insufficient cpu",)),
        # extended resources
        (dict(extra={"example.com/gpu": "2"}), [], {"example.com/gpu": "2"}, ()),
        (dict(extra={"example.com/gpu": "3"}), [], {"example.com/gpu": "2"}, ("Insufficient example.com/gpu",)),
        (
            dict(extra={"example.com/gpu": "1"}),
            [dict(extra={"example.com/gpu": "2"})],
            {"example.com/gpu": "2"},
            ("Insufficient example.com/gpu",),
        ),
        (dict(extra={"example.com/gpu": "1"}), [], {}, ("Insufficient example.com/gpu",)),
        (
            dict(extra={"ephemeral-storage": "20Gi"}),
            [],
            {"ephemeral-storage": "10Gi"},
            ("Insufficient ephemeral-storage",),
        ),
    ],
)
def test_fit_filter(
    pod: dict[str, Any], used: list[dict[str, Any]], node_extra: dict[str, str], reasons: tuple[str, ...]
) -> None:
    running = [make_pod(f"u{i}", node_name="n1", **u) for i, u in enumerate(used)]
    cluster = Cluster([make_node("n1", extra=node_extra)], running, profile("NodeResourcesFit"))
    status = cluster.filter(make_pod("new", **pod), "n1")
    assert status.reasons == reasons
    assert status.code is (Code.UNSCHEDULABLE if reasons else Code.SUCCESS)


def test_fit_counts_pods_and_overhead() -> None:
    cluster = Cluster([make_node("n1", pods="1")], [make_pod("a", node_name="n1")], profile("NodeResourcesFit"))
    assert cluster.filter(make_pod("b"), "n1").reasons == ("Too many pods",)
    pod = make_pod("o", cpu="3", spec={"overhead": {"cpu": "1500m"}})
    assert PodInfo.of(pod).requests["cpu"] == 4500
    assert Cluster([make_node("n1")], prof=profile("NodeResourcesFit")).filter(pod, "n1").reasons == (
        "Insufficient cpu",
    )


def sized(name: str, cpu: str) -> Any:
    return make_node(name, cpu=cpu, memory="10000")


STRATEGY = "NodeResourcesFit"


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ({}, {"n1": 37, "n2": 50}),
        ({"scoringStrategy": {"type": "MostAllocated"}}, {"n1": 62, "n2": 50}),
        (
            {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "requestedToCapacityRatio": {
                        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                    },
                }
            },
            {"n1": 62, "n2": 50},
        ),
        (
            {
                "scoringStrategy": {
                    "type": "LeastAllocated",
                    "resources": [{"name": "cpu", "weight": 3}, {"name": "memory", "weight": 1}],
                }
            },
            {"n1": (25 * 3 + 50) // 4, "n2": 50},
        ),
    ],
)
def test_fit_scoring_strategies(args: dict[str, Any], want: dict[str, int]) -> None:
    cluster = Cluster([sized("n1", "4"), sized("n2", "6")], prof=profile(STRATEGY, args={STRATEGY: args}))
    assert cluster.scores(make_pod(cpu="3", memory="5000")) == want


def test_balanced_allocation() -> None:
    cluster = Cluster([sized("n1", "4"), sized("n2", "6")], prof=profile("NodeResourcesBalancedAllocation"))
    assert cluster.scores(make_pod(cpu="3", memory="5000")) == {"n1": 87, "n2": 100}
    # a best-effort pod changes no balance: PreScore skips, every node scores 0
    assert cluster.scores(make_pod()) == {"n1": 0, "n2": 0}


def test_least_allocated_spreads_best_effort_pods_by_non_zero_requests() -> None:
    busy = [make_pod(f"b{i}", node_name="n1") for i in range(5)]
    cluster = Cluster([make_node("n1"), make_node("n2")], busy, profile(STRATEGY))
    scores = cluster.scores(make_pod())
    assert scores["n2"] > scores["n1"]


MB = 1024 * 1024


def test_image_locality_prefers_nodes_with_big_images() -> None:
    nodes = [
        make_node("n1", images={"gcr.io/40:latest": 40 * MB, "gcr.io/300:latest": 300 * MB}),
        make_node("n2", images={"gcr.io/250:latest": 250 * MB}),
        make_node("n3"),
    ]
    pod = make_pod(spec={"containers": [{"name": "a", "image": "gcr.io/40"}, {"name": "b", "image": "gcr.io/250"}]})
    scores = Cluster(nodes, prof=profile("ImageLocality")).scores(pod)
    # kube's "two images spread on two nodes, prefer the larger image one": 40MB/3 nodes -> 0, 250MB/3 -> 3
    assert scores == {"n1": 0, "n2": 3, "n3": 0}
