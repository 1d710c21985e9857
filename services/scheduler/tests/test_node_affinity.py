import pytest
from helpers import info, make_node, make_pod
from skiff.api.core.v1 import scheduling_pb2 as s
from skiff_scheduler.framework import Code
from skiff_scheduler.plugins.node_affinity import NodeAffinity

R = s.NodeSelectorRequirement


def with_terms(*terms: s.NodeSelectorTerm):  # type: ignore[no-untyped-def]
    pod = make_pod()
    pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution.node_selector_terms.extend(
        terms
    )
    return pod


LABELS = {"zone": "a", "disk": "ssd", "cores": "8"}


@pytest.mark.parametrize(
    ("selector", "code"),
    [
        ({}, Code.SUCCESS),
        ({"zone": "a"}, Code.SUCCESS),
        ({"zone": "a", "disk": "ssd"}, Code.SUCCESS),
        ({"zone": "b"}, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ({"missing": "x"}, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
    ],
)
def test_node_selector(selector: dict, code: Code) -> None:
    assert NodeAffinity().filter(make_pod(node_selector=selector), info(make_node(labels=LABELS))).code == code


@pytest.mark.parametrize(
    ("terms", "ok"),
    [
        ([s.NodeSelectorTerm(match_expressions=[R(key="zone", operator="In", values=["a", "b"])])], True),
        ([s.NodeSelectorTerm(match_expressions=[R(key="zone", operator="NotIn", values=["a"])])], False),
        ([s.NodeSelectorTerm(match_expressions=[R(key="gpu", operator="DoesNotExist")])], True),
        ([s.NodeSelectorTerm(match_expressions=[R(key="gpu", operator="Exists")])], False),
        ([s.NodeSelectorTerm(match_expressions=[R(key="cores", operator="Gt", values=["4"])])], True),
        ([s.NodeSelectorTerm(match_expressions=[R(key="cores", operator="Lt", values=["4"])])], False),
        ([s.NodeSelectorTerm(match_expressions=[R(key="cores", operator="Gt", values=["x"])])], False),
        # terms ORed
        (
            [
                s.NodeSelectorTerm(match_expressions=[R(key="zone", operator="In", values=["z"])]),
                s.NodeSelectorTerm(match_expressions=[R(key="disk", operator="In", values=["ssd"])]),
            ],
            True,
        ),
        # expressions ANDed
        (
            [
                s.NodeSelectorTerm(
                    match_expressions=[
                        R(key="zone", operator="In", values=["a"]),
                        R(key="disk", operator="In", values=["hdd"]),
                    ]
                )
            ],
            False,
        ),
        ([s.NodeSelectorTerm(match_fields=[R(key="metadata.name", operator="In", values=["n1"])])], True),
        ([s.NodeSelectorTerm(match_fields=[R(key="metadata.name", operator="In", values=["n2"])])], False),
        ([s.NodeSelectorTerm()], False),  # an empty term matches nothing
    ],
)
def test_required_node_affinity(terms: list, ok: bool) -> None:
    status = NodeAffinity().filter(with_terms(*terms), info(make_node("n1", labels=LABELS)))
    assert status.ok is ok
