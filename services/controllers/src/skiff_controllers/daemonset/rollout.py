"""RollingUpdate for a DaemonSet: which old pods to replace now (Kubernetes' rollingUpdate).

Input: for each node that should run the daemon, its daemon pods split into updated (template hash
matches) and old. maxUnavailable and maxSurge are resolved against desiredNumberScheduled (percentages
round up); both zero means maxUnavailable 1.

maxSurge = 0 (replace in place):
    a node with both or neither kind of pod, or more than one of a kind, is the main loop's business
    and counts as unavailable; an updated pod that is not available counts as unavailable;
    an old pod that is not available is replaced at once (it serves nothing);
    an available old pod is replaced while fewer than maxUnavailable nodes are unavailable.
maxSurge > 0 (new pod first):
    old only, old unavailable        -> delete the old pod (the main loop then creates the new one)
    old only, old available          -> create the new pod beside it, while fewer than maxSurge surge
    old and new, new available       -> delete the old pod
    old and new, new not yet         -> wait (counts against maxSurge)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.intstr import int_or_percent


@dataclass
class NodePods:
    updated: list[pod_pb2.Pod] = field(default_factory=list)
    old: list[pod_pb2.Pod] = field(default_factory=list)


@dataclass
class Plan:
    delete: list[pod_pb2.Pod] = field(default_factory=list)
    surge_nodes: list[str] = field(default_factory=list)  # create an updated pod here beside the old one


def _count(value: meta_pb2.IntOrString | None, desired: int) -> int:
    if value is None or value.WhichOneof("value") is None:
        return 0
    return max(0, int_or_percent(value, desired, True))


def budgets(
    max_unavailable: meta_pb2.IntOrString | None, max_surge: meta_pb2.IntOrString | None, desired: int
) -> tuple[int, int]:
    """(maxUnavailable, maxSurge) as counts; ValueError for a malformed percentage."""
    unavailable, surge = _count(max_unavailable, desired), _count(max_surge, desired)
    if unavailable == 0 and surge == 0:
        unavailable = 1
    return unavailable, surge


def plan(
    nodes: dict[str, NodePods], available: Callable[[pod_pb2.Pod], bool], max_unavailable: int, max_surge: int
) -> Plan:
    out = Plan()
    if max_surge > 0:
        surging = 0
        candidates: list[str] = []
        for name in sorted(nodes):
            np = nodes[name]
            if len(np.old) != 1 or len(np.updated) > 1:
                continue
            old = np.old[0]
            if not np.updated:
                if not available(old):
                    out.delete.append(old)
                else:
                    candidates.append(name)
            elif available(np.updated[0]):
                out.delete.append(old)
            else:
                surging += 1
        out.surge_nodes = candidates[: max(0, max_surge - surging)]
        return out
    unavailable = 0
    replace_now: list[pod_pb2.Pod] = []
    candidates_pods: list[pod_pb2.Pod] = []
    for name in sorted(nodes):
        np = nodes[name]
        if len(np.updated) > 1 or len(np.old) > 1 or bool(np.updated) == bool(np.old):
            unavailable += 1
            continue
        if np.updated:
            if not available(np.updated[0]):
                unavailable += 1
            continue
        old = np.old[0]
        if not available(old):
            replace_now.append(old)
        else:
            candidates_pods.append(old)
    room = max(0, max_unavailable - unavailable)
    out.delete = replace_now + candidates_pods[:room]
    return out
