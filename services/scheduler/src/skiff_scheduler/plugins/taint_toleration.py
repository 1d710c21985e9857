"""TaintToleration: Filter rejects a node with a NoSchedule/NoExecute taint the pod does not tolerate;
Score prefers nodes with fewer untolerated PreferNoSchedule taints (normalized in reverse)."""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import node_pb2, scheduling_pb2

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    MAX_NODE_SCORE,
    QUEUE,
    QUEUE_SKIP,
    UPDATE_NODE_TAINT,
    ClusterEvent,
    ClusterEventWithHint,
    NodeScore,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo


def tolerates(tol: scheduling_pb2.Toleration, taint: node_pb2.Taint) -> bool:
    if tol.effect and tol.effect != taint.effect:
        return False
    if not tol.key:  # empty key with Exists tolerates everything
        return tol.operator == "Exists"
    if tol.key != taint.key:
        return False
    if tol.operator == "Exists":
        return True
    return tol.value == taint.value  # "Equal" (the default operator)


def untolerated(taints: Any, tolerations: Any, effects: tuple[str, ...]) -> node_pb2.Taint | None:
    taint: node_pb2.Taint
    for taint in taints:
        if taint.effect in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def taint_reason(taint: node_pb2.Taint) -> str:
    # kube-scheduler's wording: "{key: value}" (e.g. "{node.kubernetes.io/not-ready: }")
    return f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}"


class TaintToleration:
    name = "TaintToleration"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("Node", ADD), self._node_hint),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_TAINT), self._node_hint),
        ]

    @staticmethod
    def _node_hint(pod: Any, old: Any, new: Any) -> bool:
        if new is None:
            return QUEUE_SKIP
        blocked = untolerated(new.spec.taints, pod.spec.tolerations, ("NoSchedule", "NoExecute"))
        return QUEUE if blocked is None else QUEUE_SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        taints = node.taints
        if not taints:
            return SUCCESS
        taint = untolerated(taints, pod.pod.spec.tolerations, ("NoSchedule", "NoExecute"))
        if taint is None:
            return SUCCESS
        return Status.unschedulable(taint_reason(taint), unresolvable=True)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        state.write(self.name, [t for t in pod.pod.spec.tolerations if t.effect in ("", "PreferNoSchedule")])
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if not node.taints:
            return 0
        tolerations = state.get(self.name) or []
        return sum(
            1
            for taint in node.taints
            if taint.effect == "PreferNoSchedule" and not any(tolerates(t, taint) for t in tolerations)
        )

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> None:
        default_normalize(scores, reverse=True)


def default_normalize(scores: list[NodeScore], *, reverse: bool = False) -> None:
    """kube-scheduler's DefaultNormalizeScore: scale to 0..100 by the maximum; reverse flips it."""
    top = max((s.score for s in scores), default=0)
    if top == 0:
        if reverse:
            for s in scores:
                s.score = MAX_NODE_SCORE
        return
    for s in scores:
        v = MAX_NODE_SCORE * s.score // top
        s.score = MAX_NODE_SCORE - v if reverse else v
