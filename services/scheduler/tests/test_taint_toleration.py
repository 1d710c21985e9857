import pytest
from helpers import info, make_node, make_pod
from skiff.api.core.v1 import scheduling_pb2
from skiff_scheduler.framework import Code
from skiff_scheduler.plugins.taint_toleration import TaintToleration

T = scheduling_pb2.Toleration


@pytest.mark.parametrize(
    ("taints", "tolerations", "code"),
    [
        ([], [], Code.SUCCESS),
        ([("dedicated", "gpu", "NoSchedule")], [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ([("dedicated", "gpu", "NoExecute")], [], Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ([("dedicated", "gpu", "PreferNoSchedule")], [], Code.SUCCESS),
        (
            [("dedicated", "gpu", "NoSchedule")],
            [T(key="dedicated", operator="Equal", value="gpu")],
            Code.SUCCESS,
        ),
        (
            [("dedicated", "gpu", "NoSchedule")],
            [T(key="dedicated", value="gpu")],
            Code.SUCCESS,
        ),  # Equal default
        (
            [("dedicated", "gpu", "NoSchedule")],
            [T(key="dedicated", value="cpu")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ([("dedicated", "gpu", "NoSchedule")], [T(key="dedicated", operator="Exists")], Code.SUCCESS),
        (
            [("dedicated", "gpu", "NoSchedule")],
            [T(key="dedicated", operator="Exists", effect="NoExecute")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        ([("a", "", "NoSchedule"), ("b", "", "NoSchedule")], [T(operator="Exists")], Code.SUCCESS),
        (
            [("a", "", "NoSchedule"), ("b", "", "NoSchedule")],
            [T(key="a", operator="Exists")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
    ],
)
def test_taint_toleration(taints: list, tolerations: list, code: Code) -> None:
    status = TaintToleration().filter(make_pod(tolerations=tolerations), info(make_node(taints=taints)))
    assert status.code == code
