"""PodTopologySpread: spread matching pods evenly over topology domains (zones, nodes, ...).

Filter (whenUnsatisfiable DoNotSchedule): PreFilter counts, per constraint and domain, the pods of the
pod's namespace that match the constraint's selector (plus ``matchLabelKeys``: the pod's own values for
those keys), on the nodes that count -- nodes that carry every constraint key, and, by
``nodeAffinityPolicy`` (default Honor) match the pod's node selector/affinity, and by
``nodeTaintsPolicy`` (default Ignore) have taints it tolerates. A node passes when
``count(domain) + self - min(count over domains) <= maxSkew``; with ``minDomains`` set and fewer
domains than that, the minimum is taken as 0. A node without a constraint key is unresolvable.

Score (ScheduleAnyway, or the plugin's default constraints when the pod has none and belongs to an
owner): fewer matching pods in the node's domains is better, each constraint weighted by
log(domains + 2); normalized so the best node gets 100. The System defaults are kube-scheduler's (zone
maxSkew 3, hostname maxSkew 5); their selector is the pod's own labels (kube-scheduler derives it from
the Services and ReplicaSets that select the pod, which carry the same labels).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from skiff_common.apimachinery import labels as labelsel

from skiff_scheduler.framework.cycle_state import CycleState, StateData
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    ALL,
    DELETE,
    MAX_NODE_SCORE,
    UPDATE_NODE_LABEL,
    UPDATE_NODE_TAINT,
    ClusterEvent,
    ClusterEventWithHint,
    NodeScore,
    PreFilterResult,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo
from skiff_scheduler.plugins.node_affinity import selector_matches
from skiff_scheduler.plugins.taint_toleration import untolerated

MISMATCH = "node(s) didn't match pod topology spread constraints"
MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)"
HOSTNAME, ZONE = "kubernetes.io/hostname", "topology.kubernetes.io/zone"
SYSTEM_DEFAULTS = ((ZONE, 3), (HOSTNAME, 5))


@dataclass(frozen=True)
class Constraint:
    max_skew: int
    topology_key: str
    hard: bool
    selector: labelsel.Selector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def constraints_of(pod: PodInfo, hard: bool, defaults: tuple[tuple[str, int], ...]) -> list[Constraint]:
    out = []
    p = pod.pod
    for c in p.spec.topology_spread_constraints:
        if (c.when_unsatisfiable == "DoNotSchedule") != hard:
            continue
        sel = labelsel.selector_from_proto(c.label_selector) if c.HasField("label_selector") else None
        if sel is None:
            sel = _NOTHING  # a constraint without a selector matches no pod (Kubernetes: nil selector)
        extra = [
            labelsel.make_requirement(k, "=", (p.metadata.labels[k],))
            for k in c.match_label_keys
            if k in p.metadata.labels
        ]
        if extra and sel is not _NOTHING:
            sel = labelsel.selector_from_requirements([*sel.requirements, *extra])
        out.append(
            Constraint(
                c.max_skew or 1,
                c.topology_key,
                hard,
                sel,
                c.min_domains if c.HasField("min_domains") else 1,
                (c.node_affinity_policy or "Honor") == "Honor",
                (c.node_taints_policy or "Ignore") == "Honor",
            )
        )
    if not out and not hard and defaults and p.metadata.owner_references and p.metadata.labels:
        sel = labelsel.selector_from_set(p.metadata.labels)
        out = [Constraint(skew, key, False, sel, 1, True, False) for key, skew in defaults]
    return out


class _Nothing(labelsel.Selector):
    def matches(self, labels: Any) -> bool:
        return False


_NOTHING = _Nothing()


def _node_counts(pod: PodInfo, c: Constraint, node: NodeInfo, keys: list[str]) -> bool:
    """Whether the node's pods count for this constraint (keys, affinity and taint policies)."""
    labels = node.labels
    if any(k not in labels for k in keys):
        return False
    spec = pod.pod.spec
    if c.honor_affinity:
        for k, v in spec.node_selector.items():
            if labels.get(k) != v:
                return False
        req = spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if req.node_selector_terms and not selector_matches(req, labels, node.name):
            return False
    if c.honor_taints and node.node is not None:
        if untolerated(node.node.spec.taints, spec.tolerations, ("NoSchedule", "NoExecute")) is not None:
            return False
    return True


def _matching(node: NodeInfo, ns: str, sel: labelsel.Selector) -> int:
    return sum(
        1
        for pi in node.pods
        if pi.pod.metadata.namespace == ns
        and not pi.pod.metadata.HasField("deletion_timestamp")
        and sel.matches(pi.pod.metadata.labels)
    )


@dataclass
class _State(StateData):
    constraints: list[Constraint] = field(default_factory=list)
    counts: list[Counter[str]] = field(default_factory=list)  # per constraint: domain value -> pods

    def clone(self) -> _State:
        return _State(self.constraints, [Counter(c) for c in self.counts])


class PodTopologySpread:
    name = "PodTopologySpread"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        self.handle = handle or Handle()
        defaulting = args.get("defaultingType", "System")
        if defaulting not in ("System", "List"):
            raise ValueError("defaultingType: must be System or List")
        self.defaults: tuple[tuple[str, int], ...] = SYSTEM_DEFAULTS
        if defaulting == "List":
            self.defaults = tuple((d["topologyKey"], int(d["maxSkew"])) for d in args.get("defaultConstraints") or ())

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent("Pod", ALL)),
            ClusterEventWithHint(ClusterEvent("Node", ADD)),
            ClusterEventWithHint(ClusterEvent("Node", DELETE)),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_LABEL)),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_TAINT)),
        ]

    # -- Filter ----------------------------------------------------------------------------------------
    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        cons = constraints_of(pod, True, ())
        if not cons:
            return None, Status.skip()
        keys = [c.topology_key for c in cons]
        s = _State(cons, [Counter() for _ in cons])
        ns = pod.pod.metadata.namespace
        for node in self.handle.snapshot.nodes:
            for i, c in enumerate(cons):
                if _node_counts(pod, c, node, keys):
                    s.counts[i][node.labels[c.topology_key]] += _matching(node, ns, c.selector)
        state.write(self.name, s)
        return None, SUCCESS

    def _update(self, state: CycleState, pod: PodInfo, other: PodInfo, node: NodeInfo, d: int) -> Status:
        s: _State | None = state.get(self.name)
        if s is None or other.pod.metadata.namespace != pod.pod.metadata.namespace:
            return SUCCESS
        keys = [c.topology_key for c in s.constraints]
        for i, c in enumerate(s.constraints):
            if _node_counts(pod, c, node, keys) and c.selector.matches(other.pod.metadata.labels):
                s.counts[i][node.labels[c.topology_key]] += d
        return SUCCESS

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, added, node, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> Status:
        return self._update(state, pod, removed, node, -1)

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _State = state.read(self.name)
        labels = node.labels
        for c, counts in zip(s.constraints, s.counts, strict=True):
            value = labels.get(c.topology_key)
            if value is None:
                return Status.unschedulable(MISSING_LABEL, unresolvable=True)
            min_match = min(counts.values()) if counts else 0
            if len(counts) < c.min_domains:
                min_match = 0
            self_match = 1 if c.selector.matches(pod.pod.metadata.labels) else 0
            if counts.get(value, 0) + self_match - min_match > c.max_skew:
                return Status.unschedulable(MISMATCH)
        return SUCCESS

    # -- Score -----------------------------------------------------------------------------------------
    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        cons = constraints_of(pod, False, self.defaults)
        if not cons:
            return Status.skip()
        keys = [c.topology_key for c in cons]
        s = _State(cons, [Counter() for _ in cons])
        ns = pod.pod.metadata.namespace
        filtered = {n.name for n in nodes}
        for node in self.handle.snapshot.nodes:
            for i, c in enumerate(cons):
                if c.topology_key == HOSTNAME and node.name not in filtered:
                    continue  # per-node domains only matter among the candidates
                if _node_counts(pod, c, node, keys):
                    s.counts[i][node.labels[c.topology_key]] += _matching(node, ns, c.selector)
        weights = [math.log(len(counts) + 2) for counts in s.counts]
        state.write(self.name + "/score", (s, weights))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        s, weights = state.read(self.name + "/score")
        total = 0.0
        for c, counts, w in zip(s.constraints, s.counts, weights, strict=True):
            value = node.labels.get(c.topology_key)
            if value is None:
                continue
            total += counts.get(value, 0) * w + (c.max_skew - 1)
        return round(total)

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> None:
        if not scores:
            return
        hi, lo = max(s.score for s in scores), min(s.score for s in scores)
        for s in scores:
            s.score = MAX_NODE_SCORE if hi == 0 else MAX_NODE_SCORE * (hi + lo - s.score) // hi
