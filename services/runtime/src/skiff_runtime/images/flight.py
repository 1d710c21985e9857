"""Single flight: concurrent calls with the same key share one execution (Go's singleflight).

Pulls run in worker threads (the registry client is synchronous), so this is thread based. The first
caller of a key runs the function; callers arriving while it runs wait for it and get its result or its
exception. Once it finished the key is forgotten, so a later call runs again (and then usually finds the
blob or image already stored). Used at two levels: a whole pull (N PullImage calls for one reference make
one pull) and each blob (two references to images that share a layer download it once).

Keys include the store's root, so two runtimes in one process (tests) never share a flight.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class SingleFlight:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            return cast(T, call.result)  # the leader's fn() for this key: a T
        try:
            result = fn()
            call.result = result
            return result
        except BaseException as err:
            call.error = err
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
