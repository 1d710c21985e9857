"""InterPodAffinity: required pod (anti-)affinity (Filter) and preferred terms (Score).

PreFilter walks the snapshot once per pod and counts, per topology pair (key, value):
  * existing: pairs where an existing pod's required anti-affinity term matches the incoming pod;
  * affinity: pairs holding pods that match every one of the pod's required affinity terms;
  * anti: pairs holding pods that match one of the pod's required anti-affinity terms.
Filter is then three dictionary lookups per node. A pod whose affinity terms match no pod anywhere may
still go where the terms' topology exists if it matches its own terms (the first pod of a group).
Preemption keeps the counts right through add_pod/remove_pod. Score sums, per topology pair, the
weights of preferred terms (the pod's, and existing pods' towards it; existing pods' required affinity
counts with hardPodAffinityWeight), and normalizes to 0..100 between the lowest and highest node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState, StateData
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    ALL,
    MAX_NODE_SCORE,
    UPDATE_NODE_LABEL,
    ClusterEvent,
    ClusterEventWithHint,
    NodeScore,
    PreFilterResult,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import AffinityTerm, NodeInfo, PodInfo

AFFINITY = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
Pair = tuple[str, str]


@dataclass
class _PreFilterState(StateData):
    existing: Counter[Pair] = field(default_factory=Counter)
    affinity: Counter[Pair] = field(default_factory=Counter)
    anti: Counter[Pair] = field(default_factory=Counter)

    def clone(self) -> _PreFilterState:
        return _PreFilterState(Counter(self.existing), Counter(self.affinity), Counter(self.anti))


class InterPodAffinity:
    name = "InterPodAffinity"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle or Handle()
        self.hard_weight = int((args or {}).get("hardPodAffinityWeight", 1))
        if not 0 <= self.hard_weight <= 100:
            raise ValueError("hardPodAffinityWeight: must be in 0..100")

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("Pod", ALL)),
            ClusterEventWithHint(ClusterEvent("Node", ADD)),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_LABEL)),
        ]

    def _ns(self, ns: str) -> Any:
        return self.handle.namespace_labels(ns)

    # -- PreFilter -------------------------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        snap = self.handle.snapshot
        if not pod.required_affinity and not pod.required_anti_affinity and not snap.with_required_anti_affinity:
            return None, Status.skip()
        s = _PreFilterState()
        for node in snap.with_required_anti_affinity:
            for existing in node.pods_with_required_anti_affinity:
                self._count_existing(s.existing, existing, pod, node, 1)
        if pod.required_affinity or pod.required_anti_affinity:
            for node in snap.nodes:
                for existing in node.pods:
                    self._count_incoming(s, pod, existing, node, 1)
        state.write(self.name, s)
        return None, SUCCESS

    def _count_existing(self, counts: Counter[Pair], existing: PodInfo, pod: PodInfo, node: NodeInfo, d: int) -> None:
        labels = node.labels
        for term in existing.required_anti_affinity:
            if term.topology_key in labels and term.matches(pod.pod, self._ns):
                counts[(term.topology_key, labels[term.topology_key])] += d

    def _count_incoming(self, s: _PreFilterState, pod: PodInfo, existing: PodInfo, node: NodeInfo, d: int) -> None:
        labels = node.labels
        if pod.required_affinity and all(t.matches(existing.pod, self._ns) for t in pod.required_affinity):
            for term in pod.required_affinity:
                if term.topology_key in labels:
                    s.affinity[(term.topology_key, labels[term.topology_key])] += d
        for term in pod.required_anti_affinity:
            if term.topology_key in labels and term.matches(existing.pod, self._ns):
                s.anti[(term.topology_key, labels[term.topology_key])] += d

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        s = state.get(self.name)
        if s is not None:
            self._count_existing(s.existing, added, pod, node, 1)
            self._count_incoming(s, pod, added, node, 1)
        return SUCCESS

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> Status:
        s = state.get(self.name)
        if s is not None:
            self._count_existing(s.existing, removed, pod, node, -1)
            self._count_incoming(s, pod, removed, node, -1)
        return SUCCESS

    # -- Filter ----------------------------------------------------------------------------------------
    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _PreFilterState = state.read(self.name)
        labels = node.labels
        if s.existing:
            for key, value in labels.items():
                if s.existing.get((key, value), 0) > 0:
                    return Status.unschedulable(EXISTING_ANTI)
        for term in pod.required_anti_affinity:
            found = labels.get(term.topology_key)
            if found is not None and s.anti.get((term.topology_key, found), 0) > 0:
                return Status.unschedulable(ANTI_AFFINITY)
        if pod.required_affinity and not self._affinity_ok(s, pod, labels):
            return Status.unschedulable(AFFINITY, unresolvable=True)
        return SUCCESS

    def _affinity_ok(self, s: _PreFilterState, pod: PodInfo, labels: Any) -> bool:
        if all(
            term.topology_key in labels and s.affinity.get((term.topology_key, labels[term.topology_key]), 0) > 0
            for term in pod.required_affinity
        ):
            return True
        # No pod matches anywhere: the first pod of a self-affine group may go where the keys exist.
        if not any(v > 0 for v in s.affinity.values()) and all(
            t.matches(pod.pod, self._ns) for t in pod.required_affinity
        ):
            return all(t.topology_key in labels for t in pod.required_affinity)
        return False

    # -- Score -----------------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        snap = self.handle.snapshot
        has_own = bool(pod.preferred_affinity or pod.preferred_anti_affinity)
        if not has_own and not snap.with_affinity:
            return Status.skip()
        scores: Counter[Pair] = Counter()
        pool = snap.nodes if has_own else snap.with_affinity
        for node in pool:
            labels = node.labels
            for existing in node.pods if has_own else node.pods_with_affinity:
                self._score_pair(scores, pod, existing, labels)
        state.write(self.name + "/score", scores)
        return SUCCESS

    def _score_pair(self, scores: Counter[Pair], pod: PodInfo, existing: PodInfo, labels: Any) -> None:
        def bump(terms: list[AffinityTerm], target: PodInfo, sign: int, weight: int | None = None) -> None:
            for t in terms:
                if t.topology_key in labels and t.matches(target.pod, self._ns):
                    scores[(t.topology_key, labels[t.topology_key])] += sign * (t.weight if weight is None else weight)

        bump(pod.preferred_affinity, existing, 1)
        bump(pod.preferred_anti_affinity, existing, -1)
        if existing.has_affinity:
            if self.hard_weight:
                bump(existing.required_affinity, pod, 1, self.hard_weight)
            bump(existing.preferred_affinity, pod, 1)
            bump(existing.preferred_anti_affinity, pod, -1)

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        scores: Counter[Pair] = state.get(self.name + "/score") or Counter()
        return sum(scores.get((k, v), 0) for k, v in node.labels.items())

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> None:
        if not scores:
            return
        lo, hi = min(s.score for s in scores), max(s.score for s in scores)
        for s in scores:
            s.score = MAX_NODE_SCORE * (s.score - lo) // (hi - lo) if hi > lo else 0
