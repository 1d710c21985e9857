import pytest
from helpers import info, make_node, make_pod
from skiff_scheduler.framework import Code, Framework, Registry, Status
from skiff_scheduler.plugins import default_registry


class Boom:
    name = "Boom"

    def filter(self, pod, node):  # type: ignore[no-untyped-def]
        raise RuntimeError("bug")


class Fixed:
    name = "Fixed"
    weight = 2

    def score(self, pod, node):  # type: ignore[no-untyped-def]
        return 500  # out of range: clamped to 100


def test_registry_refuses_duplicates_and_unknown_names() -> None:
    reg = Registry()
    reg.register("A", Boom)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("A", Boom)
    with pytest.raises(ValueError, match="unknown scheduler plugins"):
        reg.build(["B"])


def test_default_registry_builds_filters_and_scores() -> None:
    fw = Framework.from_plugins(default_registry().build())
    assert {p.name for p in fw.filters} == {
        "NodeUnschedulable",
        "NodeAffinity",
        "TaintToleration",
        "NodeResourcesFit",
    }
    assert [p.name for p in fw.scorers] == ["LeastAllocated"]


def test_plugin_exception_becomes_error_status() -> None:
    fw = Framework.from_plugins([Boom()])  # type: ignore[list-item]
    status = fw.run_filters(make_pod(), info(make_node()))
    assert status.code == Code.ERROR and status.plugin == "Boom"


def test_first_failing_filter_is_reported() -> None:
    fw = Framework.from_plugins(default_registry().build(["NodeUnschedulable", "NodeAffinity"]))
    status = fw.run_filters(make_pod(node_selector={"x": "y"}), info(make_node(unschedulable=True)))
    assert status.plugin == "NodeUnschedulable"


def test_scores_are_clamped_and_weighted() -> None:
    fw = Framework.from_plugins([Fixed()])  # type: ignore[list-item]
    assert fw.run_scores(make_pod(), info(make_node())) == 200


def test_status_helpers() -> None:
    assert Status.success().ok
    assert not Status.unschedulable("x").ok
    assert Status.unschedulable("x", unresolvable=True).code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
