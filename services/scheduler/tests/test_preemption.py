"""DefaultPreemption's victim selection and node choice (after kube-scheduler's default_preemption_test.go)."""

from __future__ import annotations

from collections import Counter

from helpers import Cluster, make_node, make_pod, profile
from skiff_scheduler.framework import Code, CycleState, PodInfo, Status
from skiff_scheduler.plugins.default_preemption import Candidate, DefaultPreemption, preemption_message

PROF = profile("NodeResourcesFit", "DefaultPreemption", "InterPodAffinity")


def run(cluster: Cluster, pod: object) -> tuple[list[Candidate], Counter[str]]:
    cluster.refresh()
    pi, state = PodInfo.of(pod), CycleState()  # type: ignore[arg-type]
    cluster.fw.run_pre_filter(state, pi, cluster.snapshot.nodes)
    statuses = {n.name: cluster.fw.run_filter(state, pi, n) for n in cluster.snapshot.nodes}
    plugin: DefaultPreemption = cluster.fw.plugins["DefaultPreemption"]
    return plugin.find_candidates(state, pi, {k: v for k, v in statuses.items() if not v.ok})


def test_minimal_victims_are_chosen_and_higher_priority_pods_are_reprieved() -> None:
    running = [
        make_pod("low1", cpu="1", priority=1, node_name="n1"),
        make_pod("low2", cpu="1", priority=2, node_name="n1"),
        make_pod("mid", cpu="2", priority=5, node_name="n1"),
    ]
    cluster = Cluster([make_node("n1", cpu="4")], running, PROF)
    candidates, _ = run(cluster, make_pod("hi", cpu="2", priority=10))
    assert len(candidates) == 1
    # removing both low pods frees 2 cpu; mid (highest) is reprieved first, then low2, then low1 is needed
    assert sorted(v.pod.metadata.name for v in candidates[0].victims) == ["low1", "low2"]


def test_no_victims_when_only_higher_priority_pods_run() -> None:
    cluster = Cluster([make_node("n1", cpu="2")], [make_pod("big", cpu="2", priority=100, node_name="n1")], PROF)
    candidates, reasons = run(cluster, make_pod("p", cpu="1", priority=10))
    assert candidates == [] and reasons == Counter({"No preemption victims found for incoming pod": 1})


def test_pick_node_with_lowest_highest_victim_priority_then_fewest() -> None:
    a = Candidate("a", [PodInfo.of(make_pod("x", priority=5))])
    b = Candidate("b", [PodInfo.of(make_pod("y", priority=1)), PodInfo.of(make_pod("z", priority=1))])
    c = Candidate("c", [PodInfo.of(make_pod("w", priority=1))])
    assert DefaultPreemption.select([a, b, c]).node == "c"
    assert DefaultPreemption.select([a, b]).node == "b"


def test_unresolvable_nodes_are_not_helpful() -> None:
    cluster = Cluster(
        [make_node("n1", cpu="1"), make_node("n2", taints=[("k", "v", "NoSchedule")])],
        [make_pod("low", cpu="1", priority=0, node_name="n1")],
        profile("TaintToleration", "NodeResourcesFit", "DefaultPreemption"),
    )
    cluster.refresh()
    pi, state = PodInfo.of(make_pod("p", cpu="1", priority=0)), CycleState()
    cluster.fw.run_pre_filter(state, pi, cluster.snapshot.nodes)
    statuses = {n.name: cluster.fw.run_filter(state, pi, n) for n in cluster.snapshot.nodes}
    plugin: DefaultPreemption = cluster.fw.plugins["DefaultPreemption"]
    candidates, reasons = plugin.find_candidates(state, pi, statuses)
    assert candidates == []
    assert preemption_message(2, reasons) == (
        "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
        "1 Preemption is not helpful for scheduling."
    )


def test_anti_affinity_victims_are_found_through_prefilter_extensions() -> None:
    anti = {
        "affinity": {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "kubernetes.io/hostname"}
                ]
            }
        }
    }
    cluster = Cluster([make_node("n1")], [make_pod("db", labels={"app": "db"}, priority=0, node_name="n1")], PROF)
    candidates, _ = run(cluster, make_pod("p", priority=10, spec=anti))
    assert [v.pod.metadata.name for v in candidates[0].victims] == ["db"]


async def test_preemption_policy_never() -> None:
    cluster = Cluster([make_node("n1", cpu="1")], [make_pod("low", cpu="1", priority=0, node_name="n1")], PROF)
    pod = make_pod("p", cpu="1", priority=10)
    pod.spec.preemption_policy = "Never"
    plugin: DefaultPreemption = cluster.fw.plugins["DefaultPreemption"]
    node, status = await plugin.post_filter(
        CycleState(), PodInfo.of(pod), {"n1": Status.unschedulable("Insufficient cpu")}
    )
    assert node is None and status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("not eligible due to preemptionPolicy=Never.",)
