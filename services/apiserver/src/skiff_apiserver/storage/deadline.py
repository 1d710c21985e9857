"""The caller's deadline, carried to every etcd call of a request.

The gRPC handler stores the absolute deadline of the incoming call in a context variable; etcd calls use
the time that is left (capped by the store's default timeout), so a client that gives up also stops the
work it started instead of leaving etcd calls running on its behalf.
"""

from __future__ import annotations

import contextvars
import time

from skiff_common import errors

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("skiff_apiserver_deadline", default=None)


def set_deadline(seconds_left: float | None) -> None:
    _deadline.set(None if seconds_left is None else time.monotonic() + seconds_left)


def remaining(default: float) -> float:
    """Seconds an etcd call may take; raises Timeout when the caller's deadline has already passed."""
    deadline = _deadline.get()
    if deadline is None:
        return default
    left = deadline - time.monotonic()
    if left <= 0:
        raise errors.Timeout("the request's deadline was exceeded")
    return min(default, left)
