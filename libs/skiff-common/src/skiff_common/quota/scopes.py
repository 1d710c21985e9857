"""Quota scopes: which pods a scoped ResourceQuota tracks, and which resources a scope may limit.

A quota with scopes (``spec.scopes`` and ``spec.scopeSelector``, all of which must match) tracks only pods:
Kubernetes' other evaluators match no scope, so a scoped quota never counts Services or ConfigMaps.

* Terminating / NotTerminating: ``spec.activeDeadlineSeconds`` set (>= 0) or not;
* BestEffort / NotBestEffort: the pod's QoS class (no request or limit on any container);
* PriorityClass: ``spec.priorityClassName`` against the selector's operator (In, NotIn, Exists,
  DoesNotExist); the bare scope means Exists.
* CrossNamespacePodAffinity: a pod (anti-)affinity term naming other namespaces or a namespace selector.
"""

from __future__ import annotations

from typing import Any

SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass", "CrossNamespacePodAffinity")
OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
# BestEffort pods request nothing, so a BestEffort quota may only count them.
BEST_EFFORT_RESOURCES = frozenset({"pods", "count/pods"})


def is_best_effort(spec: Any) -> bool:
    return not any(c.resources.requests or c.resources.limits for c in [*spec.init_containers, *spec.containers])


def _cross_namespace(spec: Any) -> bool:
    aff = spec.affinity
    for kind in ("pod_affinity", "pod_anti_affinity"):
        if not aff.HasField(kind):
            continue
        block = getattr(aff, kind)
        terms = [*block.required_during_scheduling_ignored_during_execution]
        terms += [w.pod_affinity_term for w in block.preferred_during_scheduling_ignored_during_execution]
        if any(bool(t.namespaces) or t.HasField("namespace_selector") for t in terms):
            return True
    return False


def _matches_scope(scope: str, operator: str, values: list[str], pod: Any) -> bool:
    spec = pod.spec
    terminating = bool(spec.HasField("active_deadline_seconds") and spec.active_deadline_seconds >= 0)
    if scope == "Terminating":
        return terminating
    if scope == "NotTerminating":
        return not terminating
    if scope == "BestEffort":
        return is_best_effort(spec)
    if scope == "NotBestEffort":
        return not is_best_effort(spec)
    if scope == "PriorityClass":
        name = spec.priority_class_name
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return bool(name) and name not in values
        if operator == "DoesNotExist":
            return not name
        return bool(name)  # Exists
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace(spec)
    return False


def selectors(quota: Any) -> list[tuple[str, str, list[str]]]:
    """(scope, operator, values) of every scope and scope selector expression of the quota."""
    out: list[tuple[str, str, list[str]]] = [(s, "Exists", []) for s in quota.spec.scopes]
    out += [(e.scope_name, e.operator, list(e.values)) for e in quota.spec.scope_selector.match_expressions]
    return out


def is_scoped(quota: Any) -> bool:
    return bool(quota.spec.scopes or quota.spec.scope_selector.match_expressions)


def pod_matches(quota: Any, pod: Any) -> bool:
    """True when every scope of the quota matches the pod (an unscoped quota matches every pod)."""
    return all(_matches_scope(s, op, values, pod) for s, op, values in selectors(quota))
