"""InterPodAffinity and PodTopologySpread, cases after kube-scheduler's filtering_test.go files."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Cluster, make_node, make_pod, profile
from skiff_scheduler.framework import Code

ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def term(key: str, op: str, values: list[str], topo: str = HOST) -> dict[str, Any]:
    return {
        "labelSelector": {"matchExpressions": [{"key": key, "operator": op, "values": values}]},
        "topologyKey": topo,
    }


def pod_affinity(kind: str, *terms: dict[str, Any], preferred: list[dict[str, Any]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    body: dict[str, Any] = {}
    if terms:
        body["requiredDuringSchedulingIgnoredDuringExecution"] = list(terms)
    if preferred:
        body["preferredDuringSchedulingIgnoredDuringExecution"] = preferred
    return {"affinity": {kind: body}}


def nodes3() -> list[Any]:
    return [
        make_node("n1", labels={ZONE: "z1"}),
        make_node("n2", labels={ZONE: "z1"}),
        make_node("n3", labels={ZONE: "z2"}),
    ]


IPA = profile("InterPodAffinity")


@pytest.mark.parametrize(
    ("spec", "existing_on_n1", "want"),
    [
        # affinity: must land where a "service=securityscan" pod runs (same host)
        (pod_affinity("podAffinity", term("service", "In", ["securityscan"])), {"service": "securityscan"}, {"n1"}),
        # same zone: both z1 nodes qualify
        (
            pod_affinity("podAffinity", term("service", "In", ["securityscan"], ZONE)),
            {"service": "securityscan"},
            {"n1", "n2"},
        ),
        # no pod matches anywhere and the pod does not match its own term: nowhere
        (pod_affinity("podAffinity", term("service", "In", ["other"])), {"service": "securityscan"}, set()),
        # anti-affinity per host: anywhere but n1
        (
            pod_affinity("podAntiAffinity", term("service", "In", ["securityscan"])),
            {"service": "securityscan"},
            {"n2", "n3"},
        ),
        # anti-affinity per zone: only z2
        (
            pod_affinity("podAntiAffinity", term("service", "In", ["securityscan"], ZONE)),
            {"service": "securityscan"},
            {"n3"},
        ),
        (
            pod_affinity("podAntiAffinity", term("service", "NotIn", ["securityscan"])),
            {"service": "securityscan"},
            {"n1", "n2", "n3"},
        ),
    ],
)
def test_required_pod_affinity(spec: dict[str, Any], existing_on_n1: dict[str, str], want: set[str]) -> None:
    existing = make_pod("e", labels=existing_on_n1, node_name="n1")
    cluster = Cluster(nodes3(), [existing], IPA)
    pod = make_pod("p", labels={"app": "x"}, spec=spec)
    got = {n for n in ("n1", "n2", "n3") if cluster.filter(pod, n).ok}
    assert got == want


def test_first_pod_of_self_affine_group_may_go_anywhere_with_the_key() -> None:
    cluster = Cluster(nodes3(), [], IPA)
    pod = make_pod("p", labels={"app": "db"}, spec=pod_affinity("podAffinity", term("app", "In", ["db"], ZONE)))
    assert all(cluster.filter(pod, n).ok for n in ("n1", "n2", "n3"))


def test_existing_pods_anti_affinity_is_symmetric() -> None:
    guard = make_pod(
        "g", labels={"app": "g"}, node_name="n1", spec=pod_affinity("podAntiAffinity", term("app", "In", ["web"], ZONE))
    )
    cluster = Cluster(nodes3(), [guard], IPA)
    web = make_pod("w", labels={"app": "web"})
    status = cluster.filter(web, "n2")
    assert status.code is Code.UNSCHEDULABLE
    assert status.reasons == ("node(s) didn't satisfy existing pods anti-affinity rules",)
    assert cluster.filter(web, "n3").ok
    assert cluster.filter(make_pod("o", labels={"app": "other"}), "n1").ok


def test_affinity_reason_codes() -> None:
    cluster = Cluster(nodes3(), [make_pod("e", labels={"a": "b"}, node_name="n1")], IPA)
    aff = cluster.filter(make_pod("p", spec=pod_affinity("podAffinity", term("a", "In", ["b"]))), "n2")
    assert aff.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE and aff.reasons == (
        "node(s) didn't match pod affinity rules",
    )
    anti = cluster.filter(make_pod("p", spec=pod_affinity("podAntiAffinity", term("a", "In", ["b"]))), "n1")
    assert anti.code is Code.UNSCHEDULABLE and anti.reasons == ("node(s) didn't match pod anti-affinity rules",)


def test_namespaces_scope_the_terms() -> None:
    existing = make_pod("e", namespace="other", labels={"a": "b"}, node_name="n1")
    cluster = Cluster(nodes3(), [existing], IPA)
    same_ns_only = make_pod("p", spec=pod_affinity("podAntiAffinity", term("a", "In", ["b"])))
    assert cluster.filter(same_ns_only, "n1").ok  # the term looks in the pod's own namespace only
    t = term("a", "In", ["b"]) | {"namespaces": ["other"]}
    assert not cluster.filter(make_pod("p", spec=pod_affinity("podAntiAffinity", t)), "n1").ok
    t = term("a", "In", ["b"]) | {"namespaceSelector": {}}
    assert not cluster.filter(make_pod("p", spec=pod_affinity("podAntiAffinity", t)), "n1").ok


def test_preferred_affinity_scores() -> None:
    existing = make_pod("e", labels={"security": "S1"}, node_name="n1")
    pref = [{"weight": 5, "podAffinityTerm": term("security", "In", ["S1"], ZONE)}]
    cluster = Cluster(nodes3(), [existing], IPA)
    scores = cluster.scores(make_pod("p", spec=pod_affinity("podAffinity", preferred=pref)))
    assert scores == {"n1": 200, "n2": 200, "n3": 0}
    anti = cluster.scores(make_pod("p", spec=pod_affinity("podAntiAffinity", preferred=pref)))
    assert anti == {"n1": 0, "n2": 0, "n3": 200}


PTS = profile("PodTopologySpread")


def spread(max_skew: int, key: str, when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {
        "topologySpreadConstraints": [
            {
                "maxSkew": max_skew,
                "topologyKey": key,
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "web"}},
                **extra,
            }
        ]
    }


def four_nodes() -> list[Any]:
    return [
        make_node("a", labels={ZONE: "z1"}),
        make_node("b", labels={ZONE: "z1"}),
        make_node("x", labels={ZONE: "z2"}),
        make_node("y", labels={ZONE: "z2"}),
    ]


def web(name: str, node: str) -> Any:
    return make_pod(name, labels={"app": "web"}, node_name=node)


@pytest.mark.parametrize(
    ("spec", "existing", "want"),
    [
        # kube's "pods spread across zones as 3/3, all nodes fit"
        (spread(1, ZONE), ["a", "b", "x"], {"x", "y"}),
        (spread(1, ZONE), ["a", "x"], {"a", "b", "x", "y"}),
        (spread(1, HOST), ["a", "b", "x"], {"y"}),
        (spread(2, HOST), ["a", "a", "b", "x"], {"b", "x", "y"}),
        # minDomains 3 with 2 zones: the global minimum is 0, so a zone holding 1 pod is full at maxSkew 1
        (spread(1, ZONE, minDomains=3), ["a"], {"x", "y"}),
        # ScheduleAnyway never filters
        (spread(1, ZONE, "ScheduleAnyway"), ["a", "b", "x"], {"a", "b", "x", "y"}),
    ],
)
def test_topology_spread_filter(spec: dict[str, Any], existing: list[str], want: set[str]) -> None:
    pods = [web(f"w{i}", n) for i, n in enumerate(existing)]
    cluster = Cluster(four_nodes(), pods, PTS)
    pod = make_pod("new", labels={"app": "web"}, spec=spec)
    assert {n for n in ("a", "b", "x", "y") if cluster.filter(pod, n).ok} == want


def test_topology_spread_missing_label_and_node_affinity_policy() -> None:
    nodes = [*four_nodes(), make_node("nolabel")]
    cluster = Cluster(nodes, [web("w0", "a")], PTS)
    pod = make_pod("new", labels={"app": "web"}, spec=spread(1, ZONE))
    status = cluster.filter(pod, "nolabel")
    assert status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == ("node(s) didn't match pod topology spread constraints (missing required label)",)
    # nodeAffinityPolicy Honor (default): zone z2 is excluded by the selector, so z1 alone counts
    pinned = make_pod("p", labels={"app": "web"}, spec=spread(1, ZONE), node_selector={ZONE: "z1"})
    assert cluster.filter(pinned, "b").ok
    ignore = make_pod(
        "p2", labels={"app": "web"}, spec=spread(1, ZONE, nodeAffinityPolicy="Ignore"), node_selector={ZONE: "z1"}
    )
    assert not cluster.filter(ignore, "b").ok


def test_topology_spread_scores_emptier_domains_higher() -> None:
    cluster = Cluster(four_nodes(), [web("w0", "a"), web("w1", "b"), web("w2", "x")], PTS)
    scores = cluster.scores(make_pod("new", labels={"app": "web"}, spec=spread(1, ZONE, "ScheduleAnyway")))
    assert scores["x"] == scores["y"] > scores["a"] == scores["b"]


def test_default_constraints_spread_owned_pods() -> None:
    cluster = Cluster(four_nodes(), [web("w0", "a"), web("w1", "a")], PTS)
    scores = cluster.scores(make_pod("new", labels={"app": "web"}, owned=True))
    assert scores["a"] < scores["b"] and scores["a"] < scores["x"]
