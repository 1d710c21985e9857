"""Waiting in tests: poll a check until it holds, or fail with what was seen last.

End-to-end tests watch a real cluster converge, so they poll; one helper keeps the failure message the
same everywhere ("timed out waiting for <what>; last seen: <value>")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    what: str,
    check: Callable[[], Any],
    timeout: float = 120.0,
    *,
    interval: float = 0.3,
    tolerate: tuple[type[BaseException], ...] = (),
) -> Any:
    """`check()` until it returns something true, and return that; an error in `tolerate` (a service not
    up yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except tolerate as exc:
            last = exc
        if last and not isinstance(last, BaseException):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last seen: {last!r}")
