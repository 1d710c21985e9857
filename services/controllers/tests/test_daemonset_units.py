"""DaemonSet rules as tables: eligibility, daemon tolerations, pinning, revision hash, rolling update."""

from __future__ import annotations

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import node_pb2, pod_pb2, scheduling_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.intstr import int_or_string
from skiff_controllers.daemonset import placement, revision, rollout
from skiff_controllers.nodelifecycle import taints as tt

T = scheduling_pb2.Toleration


def node(name: str = "n1", labels: dict[str, str] | None = None, taints=()) -> node_pb2.Node:
    n = node_pb2.Node(metadata=meta_pb2.ObjectMeta(name=name, labels=labels or {}))
    for key, effect in taints:
        n.spec.taints.add(key=key, effect=effect)
    return n


def spec(
    *, selector: dict[str, str] | None = None, expr=None, tolerations=(), host_network=False, node_name=""
) -> pod_pb2.PodSpec:
    s = pod_pb2.PodSpec(node_selector=selector or {}, host_network=host_network, node_name=node_name)
    s.tolerations.extend(tolerations)
    if expr is not None:
        term = s.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms.add()
        term.match_expressions.add(key=expr[0], operator=expr[1], values=expr[2])
    placement.add_daemon_tolerations(s)
    return s


@pytest.mark.parametrize(
    ("s", "n", "expected"),
    [
        (spec(), node(), (True, True)),
        (spec(selector={"disk": "ssd"}), node(labels={"disk": "ssd"}), (True, True)),
        (spec(selector={"disk": "ssd"}), node(labels={"disk": "hdd"}), (False, False)),
        (spec(expr=("zone", "In", ["a", "b"])), node(labels={"zone": "b"}), (True, True)),
        (spec(expr=("zone", "NotIn", ["a"])), node(labels={"zone": "a"}), (False, False)),
        (spec(node_name="other"), node(), (False, False)),
        # a NoSchedule taint keeps new pods off but lets a running one stay
        (spec(), node(taints=[("dedicated", "NoSchedule")]), (False, True)),
        # an untolerated NoExecute taint: neither
        (spec(), node(taints=[("dedicated", "NoExecute")]), (False, False)),
        (
            spec(tolerations=[T(key="dedicated", operator="Exists")]),
            node(taints=[("dedicated", "NoExecute")]),
            (True, True),
        ),
        # what Kubernetes adds to daemon pods: sick and cordoned nodes keep their daemons
        (spec(), node(taints=[(tt.UNREACHABLE, "NoExecute")]), (True, True)),
        (spec(), node(taints=[(tt.NOT_READY, "NoExecute")]), (True, True)),
        (spec(), node(taints=[(tt.UNSCHEDULABLE, "NoSchedule")]), (True, True)),
        (spec(), node(taints=[(tt.MEMORY_PRESSURE, "NoSchedule"), (tt.DISK_PRESSURE, "NoSchedule")]), (True, True)),
        # ...but not the NoSchedule half of not-ready (as in Kubernetes)
        (spec(), node(taints=[(tt.NOT_READY, "NoSchedule")]), (False, True)),
        # network-unavailable is tolerated only by hostNetwork pods
        (spec(), node(taints=[(tt.NETWORK_UNAVAILABLE, "NoSchedule")]), (False, True)),
        (spec(host_network=True), node(taints=[(tt.NETWORK_UNAVAILABLE, "NoSchedule")]), (True, True)),
        (spec(), node(taints=[("soft", "PreferNoSchedule")]), (True, True)),
    ],
)
def test_should_run(s: pod_pb2.PodSpec, n: node_pb2.Node, expected: tuple[bool, bool]) -> None:
    assert placement.should_run(s, n) == expected


def test_daemon_tolerations_replace_same_key_and_effect() -> None:
    s = pod_pb2.PodSpec()
    s.tolerations.add(key=tt.NOT_READY, operator="Exists", effect="NoExecute", toleration_seconds=30)
    placement.add_daemon_tolerations(s)
    nr = [t for t in s.tolerations if t.key == tt.NOT_READY]
    assert len(nr) == 1 and not nr[0].HasField("toleration_seconds")
    assert len(s.tolerations) == 6
    placement.add_daemon_tolerations(s)
    assert len(s.tolerations) == 6  # idempotent


def test_pin_to_node_replaces_terms_and_is_read_back() -> None:
    s = spec(expr=("zone", "In", ["a"]))
    pod = pod_pb2.Pod(spec=s)
    assert placement.target_node(pod) == ""
    placement.pin_to_node(pod.spec, "n7")
    terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms
    assert len(terms) == 1 and not terms[0].match_expressions
    assert (terms[0].match_fields[0].key, list(terms[0].match_fields[0].values)) == ("metadata.name", ["n7"])
    assert placement.target_node(pod) == "n7"
    pod.spec.node_name = "n8"
    assert placement.target_node(pod) == "n8"


def test_template_hash_changes_with_the_template_only() -> None:
    ds = apps_pb2.DaemonSet()
    ds.spec.template.spec.containers.add(name="c", image="busybox:1")
    h1 = revision.template_hash(ds)
    assert h1 == revision.template_hash(ds) and set(h1) <= set("bcdfghjklmnpqrstvwxz2456789")
    ds.spec.min_ready_seconds = 5
    assert revision.template_hash(ds) == h1
    ds.spec.template.spec.containers[0].image = "busybox:2"
    assert revision.template_hash(ds) != h1
    assert revision.is_updated({revision.HASH_LABEL: h1}, h1, 1)
    assert not revision.is_updated({revision.HASH_LABEL: "x"}, h1, 1)
    assert revision.is_updated({revision.GENERATION_LABEL: "3"}, h1, 3)


@pytest.mark.parametrize(
    ("unavailable", "surge", "desired", "expected"),
    [
        (int_or_string(1), None, 10, (1, 0)),
        (int_or_string("25%"), None, 10, (3, 0)),
        (int_or_string(0), int_or_string(0), 10, (1, 0)),
        (int_or_string(0), int_or_string("10%"), 10, (0, 1)),
        (None, None, 0, (1, 0)),
    ],
)
def test_budgets(unavailable, surge, desired: int, expected: tuple[int, int]) -> None:
    assert rollout.budgets(unavailable, surge, desired) == expected


def p(name: str) -> pod_pb2.Pod:
    return pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name=name))


def names(pods: list[pod_pb2.Pod]) -> list[str]:
    return [x.metadata.name for x in pods]


def test_rolling_in_place_respects_max_unavailable() -> None:
    nodes = {f"n{i}": rollout.NodePods(old=[p(f"old{i}")]) for i in range(4)}
    plan = rollout.plan(nodes, lambda _: True, max_unavailable=1, max_surge=0)
    assert names(plan.delete) == ["old0"]
    # n0 now has an updated pod that is not ready yet: nothing more may go
    nodes["n0"] = rollout.NodePods(updated=[p("new0")])
    assert rollout.plan(nodes, lambda x: x.metadata.name != "new0", 1, 0).delete == []
    # once it is available the next one goes
    assert names(rollout.plan(nodes, lambda _: True, 1, 0).delete) == ["old1"]
    # unavailable old pods are replaced at once, on top of the budget
    sick = {"old2", "old3"}
    assert names(rollout.plan(nodes, lambda x: x.metadata.name not in sick, 1, 0).delete) == ["old2", "old3", "old1"]
    # a node missing its pod counts as unavailable
    nodes["n0"] = rollout.NodePods()
    assert rollout.plan(nodes, lambda _: True, 1, 0).delete == []


def test_rolling_with_surge_creates_first() -> None:
    nodes = {f"n{i}": rollout.NodePods(old=[p(f"old{i}")]) for i in range(3)}
    plan = rollout.plan(nodes, lambda _: True, max_unavailable=0, max_surge=1)
    assert plan.delete == [] and plan.surge_nodes == ["n0"]
    nodes["n0"].updated.append(p("new0"))
    waiting = rollout.plan(nodes, lambda x: x.metadata.name != "new0", 0, 1)
    assert waiting.delete == [] and waiting.surge_nodes == []
    done = rollout.plan(nodes, lambda _: True, 0, 1)
    assert names(done.delete) == ["old0"] and done.surge_nodes == ["n1"]
