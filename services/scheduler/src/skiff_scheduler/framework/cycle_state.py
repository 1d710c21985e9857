"""CycleState: per-pod, per-cycle scratch space shared by a pod's plugins.

PreFilter computes what every Filter call needs (the pod's requests, the topology counts of matching
pods) once and writes it under its own key; Filter and Score read it. Preemption clones the state so
that simulating a victim's removal (AddPod/RemovePod) does not disturb the real cycle.
"""

from __future__ import annotations

import copy
from typing import Any


class StateData:
    """Base for what plugins store; ``clone`` defaults to a deep copy."""

    def clone(self) -> StateData:
        return copy.deepcopy(self)


class CycleState:
    __slots__ = ("_data", "record_metrics", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()  # plugins whose PreFilter returned Skip
        self.skip_score: set[str] = set()  # plugins whose PreScore returned Skip
        self.record_metrics = False

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def read(self, key: str) -> Any:
        """The value under ``key``; KeyError when its PreFilter did not run (a framework bug)."""
        return self._data[key]

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        other = CycleState()
        for key, value in self._data.items():
            other._data[key] = value.clone() if isinstance(value, StateData) else value
        other.skip_filter = set(self.skip_filter)
        other.skip_score = set(self.skip_score)
        return other
