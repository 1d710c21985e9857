"""NodeResourcesBalancedAllocation: prefer nodes whose resources would be used evenly.

Score = (1 - standard deviation of the requested/allocatable fractions) x 100, over ``resources``
(default cpu and memory), each fraction capped at 1; with two resources the deviation is |a - b| / 2.
"""

from __future__ import annotations

import math
from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import MAX_NODE_SCORE
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo
from skiff_scheduler.plugins.node_resources_fit import parse_resources


class BalancedAllocation:
    name = "NodeResourcesBalancedAllocation"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.resources = [n for n, _ in parse_resources((args or {}).get("resources"), "resources")]
        self.two = (self.resources[0], self.resources[1]) if len(self.resources) == 2 else None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if not any(pod.requests.get(n, 0) for n in self.resources):
            return Status.skip()  # a best-effort pod changes no balance
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        if self.two is not None:  # the default pair, unrolled
            a, b = self.two
            alloc, used, want = node.allocatable, node.requested, pod.requests
            ca, cb = alloc.get(a, 0), alloc.get(b, 0)
            if ca > 0 and cb > 0:
                fa = min(1.0, (used.get(a, 0) + want.get(a, 0)) / ca)
                fb = min(1.0, (used.get(b, 0) + want.get(b, 0)) / cb)
                return int((1 - abs(fa - fb) / 2) * MAX_NODE_SCORE)
        fractions = []
        for name in self.resources:
            capacity = node.allocatable.get(name, 0)
            if capacity <= 0:
                continue
            req = node.requested.get(name, 0) + pod.requests.get(name, 0)
            fractions.append(min(1.0, req / capacity))
        if len(fractions) < 2:
            return MAX_NODE_SCORE
        if len(fractions) == 2:
            std = abs(fractions[0] - fractions[1]) / 2
        else:
            mean = sum(fractions) / len(fractions)
            std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1 - std) * MAX_NODE_SCORE)
