"""PrioritySort (QueueSort): higher spec.priority first, then the pod that entered the queue first."""

from __future__ import annotations

from typing import Any

from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.types import PodInfo


class PrioritySort:
    name = "PrioritySort"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def less(self, a: PodInfo, a_ts: float, b: PodInfo, b_ts: float) -> bool:
        pa, pb = a.priority, b.priority
        return pa > pb or (pa == pb and a_ts < b_ts)
