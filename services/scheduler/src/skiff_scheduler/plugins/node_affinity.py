"""NodeAffinity: spec.nodeSelector and required node affinity (Filter), preferred terms (Score).

Terms are ORed, expressions inside a term ANDed; operators In, NotIn, Exists, DoesNotExist, Gt, Lt;
matchFields supports metadata.name, and a required term that is only ``metadata.name In [...]`` lets
PreFilter narrow the candidates to those nodes (PreFilterResult) instead of filtering every node.
``addedAffinity`` (plugin args) is ANDed with every pod's own affinity, as in kube-scheduler.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf import json_format
from skiff.api.core.v1 import scheduling_pb2

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    UPDATE_NODE_LABEL,
    ClusterEvent,
    ClusterEventWithHint,
    NodeScore,
    PreFilterResult,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo
from skiff_scheduler.plugins.taint_toleration import default_normalize

REASON = "node(s) didn't match Pod's node affinity/selector"


def requirement_matches(req: scheduling_pb2.NodeSelectorRequirement, labels: Mapping[str, str]) -> bool:
    op = req.operator
    present = req.key in labels
    value = labels.get(req.key, "")
    if op == "In":
        return present and value in req.values
    if op == "NotIn":
        return not present or value not in req.values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(req.values) != 1:
            return False
        try:
            left, right = int(value), int(req.values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False  # unknown operator: validation should have refused it; never match


def term_matches(term: scheduling_pb2.NodeSelectorTerm, labels: Mapping[str, str], node_name: str) -> bool:
    if not term.match_expressions and not term.match_fields:
        return False  # an empty term matches nothing (Kubernetes semantics)
    fields = {"metadata.name": node_name}
    return all(requirement_matches(r, labels) for r in term.match_expressions) and all(
        requirement_matches(r, fields) for r in term.match_fields
    )


def selector_matches(sel: scheduling_pb2.NodeSelector, labels: Mapping[str, str], node_name: str) -> bool:
    return any(term_matches(t, labels, node_name) for t in sel.node_selector_terms)


def _names_from_fields(sel: scheduling_pb2.NodeSelector) -> frozenset[str] | None:
    """Node names when every term pins metadata.name with In (else None: can't narrow)."""
    names: set[str] = set()
    for t in sel.node_selector_terms:
        pinned = [r for r in t.match_fields if r.key == "metadata.name" and r.operator == "In"]
        if not pinned:
            return None
        term_names = set(pinned[0].values)
        for r in pinned[1:]:
            term_names &= set(r.values)
        names |= term_names
    return frozenset(names)


class NodeAffinity:
    name = "NodeAffinity"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        raw = (args or {}).get("addedAffinity")
        self.added: scheduling_pb2.NodeAffinity | None = None
        if raw:
            self.added = json_format.ParseDict(raw, scheduling_pb2.NodeAffinity())

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: Any, _old: Any, new: Any) -> bool:
            return new is not None and self._required_ok(PodInfo.of(pod), new.metadata.labels, new.metadata.name)

        return [
            ClusterEventWithHint(ClusterEvent("Node", ADD), hint),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_LABEL), hint),
        ]

    def _required_ok(self, pod: PodInfo, labels: Mapping[str, str], node_name: str) -> bool:
        for key, value in pod.pod.spec.node_selector.items():
            if labels.get(key) != value:
                return False
        required = pod.pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if required.node_selector_terms and not selector_matches(required, labels, node_name):
            return False
        if self.added is not None:
            added = self.added.required_during_scheduling_ignored_during_execution
            if added.node_selector_terms and not selector_matches(added, labels, node_name):
                return False
        return True

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        spec = pod.pod.spec
        required = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if not spec.node_selector and not required.node_selector_terms and self.added is None:
            return None, Status.skip()
        if required.node_selector_terms:
            names = _names_from_fields(required)
            if names is not None:
                return PreFilterResult(names), SUCCESS
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if self._required_ok(pod, node.labels, node.name):
            return SUCCESS
        return Status.unschedulable(REASON, unresolvable=True)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        prefs = list(pod.pod.spec.affinity.node_affinity.preferred_during_scheduling_ignored_during_execution)
        if self.added is not None:
            prefs += list(self.added.preferred_during_scheduling_ignored_during_execution)
        if not prefs:
            return Status.skip()
        state.write(self.name, prefs)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        prefs = state.get(self.name) or []
        return sum(p.weight for p in prefs if p.weight and term_matches(p.preference, node.labels, node.name))

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> None:
        default_normalize(scores)
