"""Table-driven tests of the node-local plugins, cases translated from kube-scheduler's own tests
(taint_toleration_test.go, node_unschedulable_test.go, node_name_test.go, node_ports_test.go,
node_affinity_test.go) where they translate."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Cluster, make_node, make_pod, profile
from skiff.api.core.v1 import scheduling_pb2
from skiff_scheduler.framework import Code
from skiff_scheduler.plugins.node_ports import conflicts
from skiff_scheduler.plugins.taint_toleration import tolerates

T = scheduling_pb2.Toleration
NR, UR = "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"
DEFAULTS = [
    T(key=NR, operator="Exists", effect="NoExecute", toleration_seconds=300),
    T(key=UR, operator="Exists", effect="NoExecute", toleration_seconds=300),
]


def one(plugin: str, node: Any, pod: Any, args: dict[str, Any] | None = None) -> Any:
    return Cluster([node], prof=profile(plugin, args=args)).filter(pod, node.metadata.name)


@pytest.mark.parametrize(
    ("taints", "tolerations", "code"),
    [
        ([], [], Code.SUCCESS),
        ([("dedicated", "user1", "NoSchedule")], [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (
            [("dedicated", "user1", "NoSchedule")],
            [T(key="dedicated", value="user1", effect="NoSchedule")],
            Code.SUCCESS,
        ),
        (
            [("dedicated", "user1", "NoSchedule")],
            [T(key="dedicated", operator="Equal", value="user2", effect="NoSchedule")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ([("foo", "bar", "NoSchedule")], [T(key="foo", operator="Exists", effect="NoSchedule")], Code.SUCCESS),
        (
            [("dedicated", "user2", "NoSchedule"), ("foo", "bar", "NoSchedule")],
            [
                T(key="dedicated", operator="Equal", value="user2", effect="NoSchedule"),
                T(key="foo", operator="Exists", effect="NoSchedule"),
            ],
            Code.SUCCESS,
        ),
        (
            [("foo", "bar", "PreferNoSchedule")],
            [T(key="foo", operator="Equal", value="bar", effect="NoSchedule")],
            Code.SUCCESS,
        ),
        (
            [("foo", "bar", "NoSchedule")],
            [T(key="foo", operator="Equal", value="bar", effect="PreferNoSchedule")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ([("dedicated", "gpu", "NoExecute")], [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ([("dedicated", "gpu", "NoSchedule")], [T(operator="Exists")], Code.SUCCESS),
        # readiness reaches the scheduler as the node lifecycle controller's taints, not conditions
        ([(NR, "", "NoSchedule")], DEFAULTS, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ([(NR, "", "NoSchedule"), (NR, "", "NoExecute")], [T(key=NR, operator="Exists")], Code.SUCCESS),
    ],
)
def test_taint_toleration_filter(taints: list, tolerations: list, code: Code) -> None:
    status = one("TaintToleration", make_node(taints=taints, ready="False"), make_pod(tolerations=tolerations))
    assert status.code == code
    if code is not Code.SUCCESS:
        assert status.reasons[0].startswith("node(s) had untolerated taint {")


def test_taint_message_is_kube_schedulers() -> None:
    status = one("TaintToleration", make_node(taints=[(NR, "", "NoSchedule")]), make_pod())
    assert status.reasons == ("node(s) had untolerated taint {node.kubernetes.io/not-ready: }",)


def test_taint_toleration_score_prefers_fewer_untolerated_prefer_no_schedule() -> None:
    # kube: "the more intolerable taints a node has, the lower score it gets"
    nodes = [
        make_node("n1"),
        make_node("n2", taints=[("cpu-type", "arm64", "PreferNoSchedule")]),
        make_node("n3", taints=[("cpu-type", "arm64", "PreferNoSchedule"), ("disk-type", "ssd", "PreferNoSchedule")]),
    ]
    scores = Cluster(nodes, prof=profile("TaintToleration")).scores(make_pod())
    assert scores == {"n1": 300, "n2": 150, "n3": 0}  # 100, 50, 0 times weight 3


@pytest.mark.parametrize(
    ("tol", "taint", "want"),
    [
        (T(key="k", operator="Exists"), ("k", "v", "NoSchedule"), True),
        (T(key="k", value="v"), ("k", "v", "NoExecute"), True),
        (T(key="k", value="w"), ("k", "v", "NoExecute"), False),
        (T(operator="Exists", effect="NoExecute"), ("k", "v", "NoSchedule"), False),
        (T(value="v"), ("k", "v", "NoSchedule"), False),  # empty key needs Exists
    ],
)
def test_tolerates(tol: Any, taint: tuple[str, str, str], want: bool) -> None:
    from skiff.api.core.v1 import node_pb2

    assert tolerates(tol, node_pb2.Taint(key=taint[0], value=taint[1], effect=taint[2])) is want


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "code"),
    [
        (False, [], Code.SUCCESS),
        (True, [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (True, [T(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule")], Code.SUCCESS),
        (True, [T(operator="Exists")], Code.SUCCESS),
        (
            True,
            [T(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoExecute")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
    ],
)
def test_node_unschedulable(unschedulable: bool, tolerations: list, code: Code) -> None:
    status = one("NodeUnschedulable", make_node(unschedulable=unschedulable), make_pod(tolerations=tolerations))
    assert status.code == code


@pytest.mark.parametrize(
    ("want", "code"), [("", Code.SUCCESS), ("n1", Code.SUCCESS), ("n2", Code.UNSCHEDULABLE_AND_UNRESOLVABLE)]
)
def test_node_name(want: str, code: Code) -> None:
    assert one("NodeName", make_node("n1"), make_pod(node_name=want)).code == code


def port(host: int, proto: str = "TCP", ip: str = "") -> dict[str, Any]:
    return {"containerPort": 80, "hostPort": host, "protocol": proto, "hostIP": ip}


@pytest.mark.parametrize(
    ("existing", "wanted", "code"),
    [
        # node_ports_test.go
        ([], [], Code.SUCCESS),
        ([port(8080, "UDP", "127.0.0.1")], [port(8080, "UDP", "127.0.0.1")], Code.UNSCHEDULABLE),
        ([port(8080, "UDP", "127.0.0.1")], [port(8080, "TCP", "127.0.0.1")], Code.SUCCESS),
        ([port(8080, "UDP", "127.0.0.1")], [port(8081, "UDP", "127.0.0.1")], Code.SUCCESS),
        ([port(8080, "TCP", "127.0.0.1")], [port(8080, "TCP", "127.0.0.2")], Code.SUCCESS),
        ([port(8001, "TCP", "0.0.0.0")], [port(8001, "TCP", "127.0.0.1")], Code.UNSCHEDULABLE),
        ([port(8001, "TCP", "127.0.0.1")], [port(8001, "TCP", "0.0.0.0")], Code.UNSCHEDULABLE),
        ([port(8001, "UDP", "0.0.0.0")], [port(8001, "TCP", "0.0.0.0")], Code.SUCCESS),
    ],
)
def test_node_ports(existing: list, wanted: list, code: Code) -> None:
    running = make_pod("running", node_name="n1", spec={"containers": [{"name": "c", "image": "x", "ports": existing}]})
    pod = make_pod("new", spec={"containers": [{"name": "c", "image": "x", "ports": wanted}]})
    cluster = Cluster([make_node("n1")], [running], profile("NodePorts"))
    status = cluster.filter(pod, "n1")
    assert status.code == code
    if code is Code.UNSCHEDULABLE:
        assert status.reasons == ("node(s) didn't have free ports for the requested pod ports",)


def test_port_conflict_helper() -> None:
    assert conflicts([("0.0.0.0", "TCP", 80)], {("10.0.0.1", "TCP", 80): 1})
    assert not conflicts([("0.0.0.0", "TCP", 80)], {("10.0.0.1", "TCP", 81): 1})


def affinity(*terms: dict[str, Any], preferred: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    na: dict[str, Any] = {}
    if terms:
        na["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": list(terms)}
    if preferred:
        na["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"affinity": {"nodeAffinity": na}}


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]}


@pytest.mark.parametrize(
    ("spec", "selector", "labels", "ok"),
    [
        # node_affinity_test.go (TestNodeAffinity)
        ({}, {}, {"foo": "bar"}, True),
        ({}, {"foo": "bar"}, {"foo": "bar"}, True),
        ({}, {"foo": "bar"}, {"baz": "blah"}, False),
        (affinity(expr("foo", "In", "bar", "value2")), {}, {"foo": "bar"}, True),
        (affinity(expr("kernel-version", "Gt", "0204")), {}, {"kernel-version": "0206"}, True),
        (affinity(expr("mem-type", "NotIn", "DDR", "DDR2")), {}, {"mem-type": "DDR3"}, True),
        (affinity(expr("GPU", "Exists")), {}, {"GPU": "NVIDIA-GRID-K1"}, True),
        (affinity(expr("foo", "In", "value1", "value2")), {}, {"foo": "bar"}, False),
        (affinity({}), {}, {"foo": "bar"}, False),  # an empty term matches nothing
        (affinity(expr("foo", "In", "bar"), expr("diffkey", "In", "wrong")), {}, {"foo": "bar"}, True),  # ORed
        (
            affinity(
                {
                    "matchExpressions": [
                        {"key": "foo", "operator": "In", "values": ["bar"]},
                        {"key": "x", "operator": "DoesNotExist"},
                    ]
                }
            ),
            {},
            {"foo": "bar"},
            True,
        ),
        (affinity(expr("foo", "In", "bar")), {"foo": "bar"}, {"foo": "bar"}, True),
        (affinity(expr("foo", "NotIn", "bar")), {"foo": "bar"}, {"foo": "bar"}, False),
        (affinity(expr("foo", "Lt", "x")), {}, {"foo": "1"}, False),  # not a number
    ],
)
def test_node_affinity_filter(spec: dict[str, Any], selector: dict[str, str], labels: dict[str, str], ok: bool) -> None:
    status = one("NodeAffinity", make_node(labels=labels), make_pod(spec=spec, node_selector=selector))
    assert status.ok is ok
    if not ok:
        assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        assert status.reasons == ("node(s) didn't match Pod's node affinity/selector",)


def test_node_affinity_added_affinity() -> None:
    args = {
        "NodeAffinity": {
            "addedAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [expr("zone", "In", "foo")]}
            }
        }
    }
    assert one("NodeAffinity", make_node(labels={"zone": "foo"}), make_pod(), args).ok
    assert not one("NodeAffinity", make_node(labels={"zone": "bar"}), make_pod(), args).ok
    # ANDed with the pod's own
    pod = make_pod(spec=affinity(expr("disk", "In", "ssd")))
    assert not one("NodeAffinity", make_node(labels={"zone": "foo"}), pod, args).ok
    assert one("NodeAffinity", make_node(labels={"zone": "foo", "disk": "ssd"}), pod, args).ok


def test_node_affinity_score_prefers_heavier_matching_terms() -> None:
    pref = [
        {"weight": 2, "preference": expr("foo", "In", "bar")},
        {"weight": 4, "preference": expr("key", "In", "value")},
        {"weight": 5, "preference": expr("az", "In", "az1")},
    ]
    nodes = [
        make_node("machine1", labels={"foo": "bar"}),
        make_node("machine2", labels={"key": "value"}),
        make_node("machine5", labels={"foo": "bar", "key": "value", "az": "az1"}),
    ]
    scores = Cluster(nodes, prof=profile("NodeAffinity")).scores(make_pod(spec=affinity(preferred=pref)))
    # kube's TestNodeAffinityPriority: 18, 36, 100 (weight 2 here)
    assert scores == {"machine1": 2 * 18, "machine2": 2 * 36, "machine5": 2 * 100}
