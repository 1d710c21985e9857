import pytest
from helpers import info, make_node, make_pod
from skiff.api.core.v1 import scheduling_pb2
from skiff_scheduler.framework import Code
from skiff_scheduler.plugins.node_ready import NodeReady
from skiff_scheduler.plugins.node_unschedulable import NodeUnschedulable


@pytest.mark.parametrize(
    ("ready", "code"),
    [
        ("True", Code.SUCCESS),
        ("False", Code.UNSCHEDULABLE),
        ("Unknown", Code.UNSCHEDULABLE),
        (None, Code.UNSCHEDULABLE),
    ],
)
def test_node_ready(ready: str | None, code: Code) -> None:
    assert NodeReady().filter(make_pod(), info(make_node(ready=ready))).code == code


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "code"),
    [
        (False, [], Code.SUCCESS),
        (True, [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        (
            True,
            [scheduling_pb2.Toleration(key="node.kubernetes.io/unschedulable", operator="Exists", effect="NoSchedule")],
            Code.SUCCESS,
        ),
    ],
)
def test_node_unschedulable(unschedulable: bool, tolerations: list, code: Code) -> None:
    pod = make_pod(tolerations=tolerations)
    assert NodeUnschedulable().filter(pod, info(make_node(unschedulable=unschedulable))).code == code
