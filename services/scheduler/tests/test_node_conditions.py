"""Node readiness reaches the scheduler as taints, as in kube-scheduler: the Ready condition itself is
not read; the node lifecycle controller's not-ready / unreachable taints are, through TaintToleration.
Cordoned nodes (spec.unschedulable) are NodeUnschedulable's."""

import pytest
from helpers import info, make_node, make_pod
from skiff.api.core.v1 import scheduling_pb2
from skiff_scheduler.framework import Code, Framework
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.plugins.node_unschedulable import NodeUnschedulable

T = scheduling_pb2.Toleration
NR, UR = "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"
# What the apiserver's DefaultTolerationSeconds admission gives every pod.
DEFAULTS = [
    T(key=NR, operator="Exists", effect="NoExecute", toleration_seconds=300),
    T(key=UR, operator="Exists", effect="NoExecute", toleration_seconds=300),
]


@pytest.mark.parametrize(
    ("ready", "taints", "tolerations", "code"),
    [
        # the condition alone decides nothing (kube-scheduler has no condition check)
        ("False", [], DEFAULTS, Code.SUCCESS),
        ("Unknown", [], DEFAULTS, Code.SUCCESS),
        (None, [], DEFAULTS, Code.SUCCESS),
        # the controller's NoSchedule taints keep new pods off; default tolerations are NoExecute only
        ("False", [(NR, "", "NoSchedule")], DEFAULTS, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        ("Unknown", [(UR, "", "NoSchedule"), (UR, "", "NoExecute")], DEFAULTS, Code.UNSCHEDULABLE_AND_UNRESOLVABLE),
        # a pod tolerating both effects (e.g. a DaemonSet pod given a NoSchedule toleration) fits
        ("False", [(NR, "", "NoSchedule"), (NR, "", "NoExecute")], [T(key=NR, operator="Exists")], Code.SUCCESS),
    ],
)
def test_readiness_is_taints(ready: str | None, taints: list, tolerations: list, code: Code) -> None:
    fw = Framework.from_plugins(default_registry().build())
    status = fw.run_filters(make_pod(tolerations=tolerations), info(make_node(ready=ready, taints=taints)))
    assert status.code == code
    if code != Code.SUCCESS:
        assert status.plugin == "TaintToleration"


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
    pod = make_pod(tolerations=tolerations)
    assert NodeUnschedulable().filter(pod, info(make_node(unschedulable=unschedulable))).code == code


def test_untolerated_taint_message_is_kube_schedulers() -> None:
    fw = Framework.from_plugins(default_registry().build())
    status = fw.run_filters(make_pod(), info(make_node(taints=[(NR, "", "NoSchedule")])))
    assert status.reasons == ("node(s) had untolerated taint {node.kubernetes.io/not-ready: }",)
