"""Expectations: the creations and deletions a controller has issued but not yet *seen* in its cache.

Without them a resync right after creating 3 pods finds the cache still empty and creates 3 more. A key
with outstanding expectations is not acted on until the informer has delivered the adds/deletes, or
until they expire (5 minutes, Kubernetes' ExpectationsTimeout) so a lost event cannot wedge it forever.
Deletions are tracked by UID (Kubernetes' UIDTrackingControllerExpectations): a delete event for a pod we
did not delete, or a second event for one we did, does not count twice.

Everything runs on one asyncio loop; no locks.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

EXPECTATIONS_TIMEOUT = 300.0


@dataclass
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    stamp: float = 0.0


class Expectations:
    def __init__(self, clock: Callable[[], float] = time.monotonic, timeout: float = EXPECTATIONS_TIMEOUT) -> None:
        self._clock = clock
        self._timeout = timeout
        self._items: dict[str, _Record] = {}

    def expect_creations(self, key: str, n: int) -> None:
        self._items[key] = _Record(adds=n, stamp=self._clock())

    def expect_deletions(self, key: str, uids: Iterable[str]) -> None:
        self._items[key] = _Record(adds=0, deletes=set(uids), stamp=self._clock())

    def creation_observed(self, key: str) -> None:
        """An add event for an object this key created (or a creation that failed and never will be)."""
        if (r := self._items.get(key)) is not None:
            r.adds -= 1

    def deletion_observed(self, key: str, uid: str) -> None:
        if (r := self._items.get(key)) is not None:
            r.deletes.discard(uid)

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for ``key`` (or the expectations expired): safe to act."""
        r = self._items.get(key)
        if r is None:
            return True
        if r.adds <= 0 and not r.deletes:
            return True
        return self._clock() - r.stamp > self._timeout

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected; for logs and tests."""
        r = self._items.get(key)
        return (max(r.adds, 0), len(r.deletes)) if r is not None else (0, 0)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)
