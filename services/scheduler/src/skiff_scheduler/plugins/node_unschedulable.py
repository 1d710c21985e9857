"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods unless the pod tolerates
the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import node_pb2

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    QUEUE,
    QUEUE_SKIP,
    UPDATE_NODE_TAINT,
    ClusterEvent,
    ClusterEventWithHint,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo
from skiff_scheduler.plugins.taint_toleration import tolerates

UNSCHEDULABLE_TAINT = node_pb2.Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
REASON = "node(s) were unschedulable"


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def events_to_register(self) -> list[ClusterEventWithHint]:
        hint = lambda _pod, _old, new: QUEUE if new is not None and not new.spec.unschedulable else QUEUE_SKIP  # noqa: E731
        return [
            ClusterEventWithHint(ClusterEvent("Node", ADD), hint),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_TAINT), hint),
        ]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.unschedulable:
            return SUCCESS
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.pod.spec.tolerations):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
