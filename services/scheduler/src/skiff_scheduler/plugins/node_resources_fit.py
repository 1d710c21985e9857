"""NodeResourcesFit: Filter on every requested resource; Score by a scoring strategy.

Filter: the pod count must stay within allocatable ``pods``; for every resource the pod requests
(cpu, memory, ephemeral-storage and extended resources such as ``example.com/gpu``), what the node's
pods already request plus the pod's request must fit its allocatable ("Insufficient <name>"). The pod's
request is already its effective one (init containers and overhead, see framework.types).

Score (args ``scoringStrategy``): ``LeastAllocated`` (default: emptiest node), ``MostAllocated``
(bin-packing) or ``RequestedToCapacityRatio`` (a piecewise-linear ``shape`` over utilization), each a
weighted mean over ``resources`` (default cpu and memory, weight 1). cpu and memory count containers
without requests as 100m / 200Mi, so best-effort pods spread too.
"""

from __future__ import annotations

import itertools
from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import (
    ADD,
    DELETE,
    MAX_NODE_SCORE,
    UPDATE_NODE_ALLOCATABLE,
    UPDATE_POD_SCALE_DOWN,
    ClusterEvent,
    ClusterEventWithHint,
)
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import CPU, MEMORY, PODS, NodeInfo, PodInfo

LEAST, MOST, RATIO = "LeastAllocated", "MostAllocated", "RequestedToCapacityRatio"
DEFAULT_RESOURCES = ((CPU, 1), (MEMORY, 1))


def parse_resources(raw: Any, path: str) -> tuple[tuple[str, int], ...]:
    if raw is None:
        return DEFAULT_RESOURCES
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{path}: must be a non-empty list of {{name, weight}}")
    out = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            raise ValueError(f"{path}[{i}].name: required")
        w = r.get("weight", 1)
        if not isinstance(w, int) or not 1 <= w <= 100:
            raise ValueError(f"{path}[{i}].weight: must be an integer in 1..100")
        out.append((r["name"], w))
    return tuple(out)


def requested_for_score(pod: PodInfo, node: NodeInfo, name: str) -> int:
    if name == CPU:
        return node.nonzero_cpu + pod.nonzero_cpu
    if name == MEMORY:
        return node.nonzero_memory + pod.nonzero_memory
    return node.requested.get(name, 0) + pod.requests.get(name, 0)


def fit_reasons(pod: PodInfo, node: NodeInfo, ignored: frozenset[str] = frozenset()) -> list[str]:
    alloc, used = node.allocatable, node.requested
    reasons = []
    if len(node.pods) + 1 > alloc.get(PODS, 0):
        reasons.append("Too many pods")
    for name, want in pod.ordered_requests:  # cpu, memory, ephemeral-storage, then by name
        if name in ignored:
            continue
        if used.get(name, 0) + want > alloc.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def _interpolate(shape: list[tuple[int, int]], utilization: int) -> int:
    if utilization <= shape[0][0]:
        return shape[0][1]
    for (u0, s0), (u1, s1) in itertools.pairwise(shape):
        if utilization <= u1:
            return s0 + (s1 - s0) * (utilization - u0) // (u1 - u0)
    return shape[-1][1]


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        args = args or {}
        strategy = args.get("scoringStrategy") or {}
        self.strategy = strategy.get("type", LEAST)
        if self.strategy not in (LEAST, MOST, RATIO):
            raise ValueError(f"scoringStrategy.type: must be one of {LEAST}, {MOST}, {RATIO}")
        self.resources = parse_resources(strategy.get("resources"), "scoringStrategy.resources")
        self.ignored = frozenset(args.get("ignoredResources") or ())
        self.shape: list[tuple[int, int]] = []
        if self.strategy == RATIO:
            raw = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
            if not raw:
                raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: required")
            # shape scores are 0..10 (MaxCustomPriorityScore); scale to 0..100.
            self.shape = sorted((int(p["utilization"]), int(p["score"]) * 10) for p in raw)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        freed = lambda _pod, old, _new: old is None or bool(old.spec.containers)  # noqa: E731
        return [
            ClusterEventWithHint(ClusterEvent("Pod", DELETE), freed),
            ClusterEventWithHint(ClusterEvent("Pod", UPDATE_POD_SCALE_DOWN)),
            ClusterEventWithHint(ClusterEvent("Node", ADD)),
            ClusterEventWithHint(ClusterEvent("Node", UPDATE_NODE_ALLOCATABLE)),
        ]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        reasons = fit_reasons(pod, node, self.ignored)
        return Status.unschedulable(*reasons) if reasons else SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self.resources is DEFAULT_RESOURCES and self.strategy == LEAST:
            # the default, unrolled: mean of free cpu and memory fractions (0..100)
            alloc = node.allocatable
            cap_c, cap_m = alloc.get(CPU, 0), alloc.get(MEMORY, 0)
            if cap_c > 0 and cap_m > 0:
                req_c, req_m = node.nonzero_cpu + pod.nonzero_cpu, node.nonzero_memory + pod.nonzero_memory
                s_c = (cap_c - req_c) * MAX_NODE_SCORE // cap_c if req_c <= cap_c else 0
                s_m = (cap_m - req_m) * MAX_NODE_SCORE // cap_m if req_m <= cap_m else 0
                return (s_c + s_m) // 2
        total = weights = 0
        alloc = node.allocatable
        for name, weight in self.resources:
            capacity = alloc.get(name, 0)
            if capacity <= 0:
                continue
            req = requested_for_score(pod, node, name)
            if self.strategy == LEAST:
                s = 0 if req > capacity else (capacity - req) * MAX_NODE_SCORE // capacity
            elif self.strategy == MOST:
                s = min(req, capacity) * MAX_NODE_SCORE // capacity
            else:
                s = _interpolate(self.shape, min(100, req * 100 // capacity))
            total += s * weight
            weights += weight
        return total // weights if weights else 0
