"""Taints and tolerations: matching, and the taints a node's conditions call for.

Kubernetes' node lifecycle controller keeps a node's well-known taints in step with its conditions
(TaintNodesByCondition and the NoExecute taint manager), and the scheduler reads only the taints:

    Ready False             -> node.kubernetes.io/not-ready      NoSchedule + NoExecute
    Ready Unknown           -> node.kubernetes.io/unreachable    NoSchedule + NoExecute
    MemoryPressure True     -> node.kubernetes.io/memory-pressure    NoSchedule
    DiskPressure True       -> node.kubernetes.io/disk-pressure      NoSchedule
    PIDPressure True        -> node.kubernetes.io/pid-pressure       NoSchedule
    NetworkUnavailable True -> node.kubernetes.io/network-unavailable NoSchedule
    spec.unschedulable      -> node.kubernetes.io/unschedulable      NoSchedule

A node without a Ready condition yet (just registered) gets no new ones: it is neither known bad nor
good, and the grace period turns it Unknown if the kubelet never reports; as in Kubernetes, the NoSchedule
pass still removes condition taints nothing calls for, while NoExecute ones stay until Ready is known.
Taints set by anyone else are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from skiff.api.core.v1 import node_pb2, scheduling_pb2

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
PID_PRESSURE = "node.kubernetes.io/pid-pressure"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"

CONDITION_TAINTS = {
    "MemoryPressure": MEMORY_PRESSURE,
    "DiskPressure": DISK_PRESSURE,
    "PIDPressure": PID_PRESSURE,
    "NetworkUnavailable": NETWORK_UNAVAILABLE,
}
# The keys this controller owns: it adds and removes them; every other taint is left alone.
MANAGED_KEYS = frozenset({NOT_READY, UNREACHABLE, UNSCHEDULABLE, *CONDITION_TAINTS.values()})


def tolerates(tol: scheduling_pb2.Toleration, taint: node_pb2.Taint) -> bool:
    """Kubernetes' ToleratesTaint: effect (empty = all), key (empty + Exists = all), operator."""
    if tol.effect and tol.effect != taint.effect:
        return False
    if not tol.key:
        return tol.operator == "Exists"
    if tol.key != taint.key:
        return False
    if tol.operator == "Exists":
        return True
    return tol.value == taint.value  # "Equal", the default operator


def tolerated(tolerations: Iterable[scheduling_pb2.Toleration], taint: node_pb2.Taint) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def condition(node: node_pb2.Node, type_: str) -> str | None:
    for c in node.status.conditions:
        if c.type == type_:
            return c.status
    return None


def wanted_keys(node: node_pb2.Node) -> set[tuple[str, str]]:
    """(key, effect) of the managed taints the node's conditions and spec call for."""
    out: set[tuple[str, str]] = set()
    ready = condition(node, "Ready")
    if ready == "False":
        out |= {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")}
    elif ready == "Unknown":
        out |= {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}
    for cond, key in CONDITION_TAINTS.items():
        if condition(node, cond) == "True":
            out.add((key, "NoSchedule"))
    if node.spec.unschedulable:
        out.add((UNSCHEDULABLE, "NoSchedule"))
    return out


def reconcile_taints(node: node_pb2.Node, now_seconds: int) -> list[node_pb2.Taint] | None:
    """The node's new taint list, or None when it is already right. Taints that stay keep their
    timeAdded (the eviction clock of NoExecute taints runs from it); new ones get `now_seconds`."""
    wanted = wanted_keys(node)
    if condition(node, "Ready") is None:
        wanted |= {
            (t.key, t.effect) for t in node.spec.taints if t.key in (NOT_READY, UNREACHABLE) and t.effect == "NoExecute"
        }
    kept: list[node_pb2.Taint] = []
    have: set[tuple[str, str]] = set()
    for t in node.spec.taints:
        if t.key in MANAGED_KEYS and (t.key, t.effect) not in wanted:
            continue
        kept.append(t)
        have.add((t.key, t.effect))
    added = sorted(wanted - have)
    if not added and len(kept) == len(node.spec.taints):
        return None
    for key, effect in added:
        taint = node_pb2.Taint(key=key, effect=effect)
        if effect == "NoExecute":
            taint.time_added.seconds = now_seconds
        kept.append(taint)
    return kept


def no_execute(taints: Sequence[node_pb2.Taint]) -> list[node_pb2.Taint]:
    return [t for t in taints if t.effect == "NoExecute"]
