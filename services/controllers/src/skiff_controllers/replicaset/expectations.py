"""Expectations: how many pod creations/deletions a ReplicaSet is still waiting to *see*.

Without them a resync right after creating 3 pods would find the cache still empty and create 3 more.
A ReplicaSet with outstanding expectations is not acted on until the informer has delivered the
adds/deletes it caused, or until the expectations expire (a lost event must not wedge it forever).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

EXPECTATION_TTL = 30.0


@dataclass
class _Expect:
    adds: int
    dels: int
    deadline: float


class Expectations:
    def __init__(self, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self._clock = clock
        self._items: dict[str, _Expect] = {}

    def expect(self, key: str, adds: int = 0, dels: int = 0) -> None:
        self._items[key] = _Expect(adds, dels, self._clock() + EXPECTATION_TTL)

    def observed_add(self, key: str) -> None:
        if (e := self._items.get(key)) is not None:
            e.adds -= 1

    def observed_delete(self, key: str) -> None:
        if (e := self._items.get(key)) is not None:
            e.dels -= 1

    def satisfied(self, key: str) -> bool:
        e = self._items.get(key)
        if e is None:
            return True
        if (e.adds <= 0 and e.dels <= 0) or self._clock() > e.deadline:
            del self._items[key]
            return True
        return False

    def forget(self, key: str) -> None:
        self._items.pop(key, None)
