"""NodeAffinity: spec.nodeSelector (all labels must match) and the required node affinity terms
(terms are ORed, expressions inside a term ANDed; operators In, NotIn, Exists, DoesNotExist, Gt, Lt;
matchFields supports metadata.name)."""

from __future__ import annotations

from collections.abc import Mapping

from skiff.api.core.v1 import pod_pb2, scheduling_pb2

from skiff_scheduler.framework import NodeInfo, Status


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


class NodeAffinity:
    name = "NodeAffinity"

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        labels = node.node.metadata.labels
        for key, value in pod.spec.node_selector.items():
            if labels.get(key) != value:
                return Status.unschedulable("node(s) didn't match Pod's node affinity/selector", unresolvable=True)
        required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        if required.node_selector_terms and not any(
            term_matches(t, labels, node.name) for t in required.node_selector_terms
        ):
            return Status.unschedulable("node(s) didn't match Pod's node affinity/selector", unresolvable=True)
        return Status.success()
