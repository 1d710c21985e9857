"""NodeName: a pod that names its node (spec.nodeName) fits only there."""

from __future__ import annotations

from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import ADD, ClusterEvent, ClusterEventWithHint
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

REASON = "node(s) didn't match the requested node name"


class NodeName:
    name = "NodeName"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [ClusterEventWithHint(ClusterEvent("Node", ADD))]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        want = pod.pod.spec.node_name
        if not want or want == node.name:
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)
