"""The framework: registry, profiles from KubeSchedulerConfiguration, feasible-node counts, Permit."""

from __future__ import annotations

import asyncio

import pytest
from helpers import Cluster, make_node, make_pod, profile
from skiff_scheduler.framework import Code, CycleState, Handle, PodInfo, PreFilterResult, StateData, Status
from skiff_scheduler.framework.build import build_framework
from skiff_scheduler.framework.registry import Registry
from skiff_scheduler.framework.runtime import num_feasible_nodes_to_find
from skiff_scheduler.main import check_configuration
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.profile import ConfigError, parse_configuration


def test_registry_refuses_duplicates() -> None:
    reg = Registry()
    reg.register("A", lambda a, h: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="already registered"):
        reg.register("A", lambda a, h: None)  # type: ignore[arg-type,return-value]


def test_default_profile_places_plugins_at_their_points_with_weights() -> None:
    fw = build_framework(profile(), default_registry(), Handle())
    assert fw.queue_sort.name == "PrioritySort"
    assert [p.name for p in fw.filter] == [
        "NodeUnschedulable",
        "NodeName",
        "TaintToleration",
        "NodeAffinity",
        "NodePorts",
        "NodeResourcesFit",
        "VolumeBinding",
        "PodTopologySpread",
        "InterPodAffinity",
    ]
    assert {p.name: w for p, w in fw.score} == {
        "TaintToleration": 3,
        "NodeAffinity": 2,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
    assert [p.name for p in fw.post_filter] == ["DefaultPreemption"]
    assert [p.name for p in fw.bind] == ["DefaultBinder"]


CONFIG = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
percentageOfNodesToScore: 30
profiles:
- schedulerName: default-scheduler
- schedulerName: bin-packer
  percentageOfNodesToScore: 100
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}, {name: ImageLocality}]
      enabled: [{name: NodeResourcesFit, weight: 5}]
    filter:
      disabled: [{name: NodePorts}]
  pluginConfig:
  - name: NodeResourcesFit
    args: {scoringStrategy: {type: MostAllocated}}
"""


def test_profiles_from_kube_scheduler_configuration() -> None:
    sc = parse_configuration(CONFIG)
    assert [p.scheduler_name for p in sc.profiles] == ["default-scheduler", "bin-packer"]
    default = build_framework(sc.profiles[0], default_registry(), Handle(), sc.percentage_of_nodes_to_score)
    packer = build_framework(sc.profiles[1], default_registry(), Handle(), sc.percentage_of_nodes_to_score)
    assert default.percentage_of_nodes_to_score == 30 and packer.percentage_of_nodes_to_score == 100
    assert "NodePorts" not in [p.name for p in packer.filter]
    weights = {p.name: w for p, w in packer.score}
    assert weights["NodeResourcesFit"] == 5 and "ImageLocality" not in weights
    assert packer.plugins["NodeResourcesFit"].strategy == "MostAllocated"
    assert default.plugins["NodeResourcesFit"].strategy == "LeastAllocated"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Deployment", "kind: must be KubeSchedulerConfiguration"),
        ("percentageOfNodesToScore: 150", "percentageOfNodesToScore: must be an integer in 0..100"),
        ("profiles: [{plugins: {sort: {}}}]", "profiles[0].plugins.sort: unknown extension point"),
        (
            "profiles: [{plugins: {score: {enabled: [{weight: 2}]}}}]",
            "profiles[0].plugins.score.enabled[0].name: required",
        ),
        ("profiles: [{schedulerName: a}, {schedulerName: a}]", "profiles[1].schedulerName: duplicate profile"),
        ("profiles: [{plugins: {filter: {enabled: [{name: Nope}]}}}]", "unknown plugin 'Nope'"),
        (
            "profiles: [{plugins: {filter: {enabled: [{name: ImageLocality}]}}}]",
            "ImageLocality does not implement filter",
        ),
        (
            "profiles: [{pluginConfig: [{name: NodeResourcesFit, args: {scoringStrategy: {type: Random}}}]}]",
            "pluginConfig[NodeResourcesFit].args: scoringStrategy.type: must be one of",
        ),
        ("profiles: [{plugins: {queueSort: {disabled: [{name: '*'}]}}}]", "plugins.queueSort: exactly one plugin"),
    ],
)
def test_bad_configuration_names_the_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
        check_configuration(parse_configuration(text))


@pytest.mark.parametrize(
    ("nodes", "pct", "want"),
    [
        # kube-scheduler's TestNumFeasibleNodesToFind
        (10, 0, 10),
        (10, 40, 10),
        (1000, 0, 420),
        (1000, 40, 400),
        (6000, 0, 300),
        (6000, 40, 2400),
        (5000, 0, 500),
        (500, 0, 230),
        (150, 10, 100),
        (5000, 100, 5000),
    ],
)
def test_num_feasible_nodes_to_find(nodes: int, pct: int, want: int) -> None:
    assert num_feasible_nodes_to_find(nodes, pct) == want


PIN_N2 = {
    "affinity": {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]
            }
        }
    }
}


def test_prefilter_result_narrows_candidates() -> None:
    a = PreFilterResult(frozenset({"a", "b"}))
    assert a.merge(None) is a
    assert a.merge(PreFilterResult(frozenset({"b", "c"}))).node_names == {"b"}
    assert PreFilterResult().merge(a) is a
    pod = make_pod(spec=PIN_N2)
    cluster = Cluster([make_node(f"n{i}") for i in range(1, 5)])
    node, _ = cluster.schedule(pod)
    assert node == "n2"
    node, message = cluster.schedule(make_pod("big", cpu="10", spec=PIN_N2))
    assert node == "" and message == (
        "0/4 nodes are available: 1 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity]."
    )


class _Counter(StateData):
    def __init__(self) -> None:
        self.n = 0


def test_cycle_state_clone_is_independent() -> None:
    state = CycleState()
    c = _Counter()
    state.write("k", c)
    other = state.clone()
    other.read("k").n = 5
    assert state.read("k").n == 0


class _Gate:
    name = "Gate"

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def permit(self, state: CycleState, pod: PodInfo, node: str) -> tuple[Status, float]:
        return Status.wait(), self.timeout


async def test_permit_waits_until_allowed_or_times_out() -> None:
    fw = build_framework(profile("NodeName"), default_registry(), Handle())
    fw.permit = [_Gate(5.0)]  # type: ignore[list-item]
    pi = PodInfo.of(make_pod("w"))
    assert fw.run_permit(CycleState(), pi, "n1").code is Code.WAIT
    waiter = asyncio.create_task(fw.wait_on_permit(pi))
    await asyncio.sleep(0)
    fw.waiting[pi.uid].allow("Gate")
    assert (await waiter).ok
    fw.permit = [_Gate(0.01)]  # type: ignore[list-item]
    pi2 = PodInfo.of(make_pod("w2"))
    assert fw.run_permit(CycleState(), pi2, "n1").code is Code.WAIT
    status = await fw.wait_on_permit(pi2)
    assert status.code is Code.UNSCHEDULABLE and "timeout" in status.message() and status.plugin == "Gate"
    assert pi2.uid not in fw.waiting
