"""NodePorts: a pod's hostPorts must be free on the node. Two ports clash when protocol and port are
equal and either host IP is 0.0.0.0 (all addresses) or both are the same address."""

from __future__ import annotations

from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import ADD, DELETE, ClusterEvent, ClusterEventWithHint, PreFilterResult
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

REASON = "node(s) didn't have free ports for the requested pod ports"
ANY_IP = "0.0.0.0"


def conflicts(wanted: list[tuple[str, str, int]], used: dict[tuple[str, str, int], int]) -> bool:
    for ip, proto, port in wanted:
        if (ip, proto, port) in used:
            return True
        if ip == ANY_IP:
            if any(u_proto == proto and u_port == port for _, u_proto, u_port in used):
                return True
        elif (ANY_IP, proto, port) in used:
            return True
    return False


class NodePorts:
    name = "NodePorts"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: Any, old: Any, _new: Any) -> bool:
            return old is None or any(p.host_port > 0 for c in old.spec.containers for p in c.ports)

        return [
            ClusterEventWithHint(ClusterEvent("Pod", DELETE), hint),
            ClusterEventWithHint(ClusterEvent("Node", ADD)),
        ]

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        if not pod.ports:
            return None, Status.skip()
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if conflicts(pod.ports, node.used_ports):
            return Status.unschedulable(REASON)
        return SUCCESS
