"""Overload protection: a cap on in-flight requests and a token bucket per client, per priority level.

Both answer RESOURCE_EXHAUSTED at once instead of queueing, so an overloaded apiserver sheds load and
stays responsive (clients back off and retry). Watches are long-running and are not counted, as in
Kubernetes' max-requests-inflight. The cluster's own components (flowcontrol.py's system level) have
an in-flight pool of their own and no rate limit, so users cannot starve them; system:masters is
exempt. The client identity is the TLS certificate's common name when mutual TLS is on, otherwise the
peer address including the port (one connection, one client): every component runs on 127.0.0.1, so an
IP alone would lump the whole cluster together.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

import grpc
from skiff_common import errors

from skiff_apiserver import metrics
from skiff_apiserver.admission.flowcontrol import Level


class Limits:
    def __init__(self, max_inflight: int, rate_per_client: float, burst: int) -> None:
        self.max_inflight = max_inflight
        self.rate = rate_per_client
        self.burst = max(burst, 1)
        self.inflight = 0  # the workload level's requests in flight
        self.system_inflight = 0  # the system level's, capped by max_inflight on their own
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, last refill time)

    @property
    def per_client(self) -> bool:
        return self.rate > 0

    def admit(self, client: str, level: Level = Level.WORKLOAD) -> _Admitted:
        """`with limits.admit(client, level):` -- raises TooManyRequests, or counts the request in
        flight until the block ends. A plain object rather than a @contextmanager generator: this runs on
        every request, and a generator-based context manager costs several times more."""
        if level is Level.EXEMPT:
            return _Admitted(self, None)
        system = level is Level.SYSTEM
        inflight = self.system_inflight if system else self.inflight
        if self.max_inflight > 0 and inflight >= self.max_inflight:
            raise errors.TooManyRequests(f"too many requests in flight (limit {self.max_inflight}); retry later")
        if not system:
            self._take_token(client)
        return _Admitted(self, level)

    def _take_token(self, client: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        tokens, last = self._buckets.get(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, now)
            raise errors.TooManyRequests(
                f"client rate limit exceeded ({self.rate:g} requests/s, burst {self.burst}); retry later"
            )
        self._buckets[client] = (tokens - 1.0, now)
        if len(self._buckets) > 10_000:  # forget idle clients (full buckets carry no information)
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < self.burst / self.rate}


class _Admitted:
    __slots__ = ("_level", "_limits")

    def __init__(self, limits: Limits, level: Level | None) -> None:
        self._limits = limits
        self._level = level  # None: exempt, counted nowhere but the gauge

    def __enter__(self) -> None:
        if self._level is Level.SYSTEM:
            self._limits.system_inflight += 1
        elif self._level is Level.WORKLOAD:
            self._limits.inflight += 1
        metrics.INFLIGHT.inc()

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        if self._level is Level.SYSTEM:
            self._limits.system_inflight -= 1
        elif self._level is Level.WORKLOAD:
            self._limits.inflight -= 1
        metrics.INFLIGHT.dec()


def client_identity(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    auth = context.auth_context() or {}
    cn = list(auth.get("x509_common_name") or [])
    if cn:
        first = cn[0]
        return f"cn:{first.decode(errors='replace') if isinstance(first, bytes) else first}"
    return context.peer() or "unknown"
