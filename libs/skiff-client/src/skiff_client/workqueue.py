"""A rate-limited work queue of object keys, after client-go's ``workqueue``.

Why this shape: controllers are level-triggered, so the queue carries *keys*, never objects. Two
properties make that safe and cheap:

* **stingy** -- a key added many times before a worker picks it up is queued once (``dirty`` set);
* **fair** -- a key being processed (``processing`` set) is never handed to a second worker. If it is
  added meanwhile it is only marked dirty and goes back on the queue when the first worker calls
  ``done``, so the latest state is always reconciled once more but never concurrently.

Retry pacing is the *larger* of a per-item exponential backoff (5 ms doubling up to 1000 s, reset by
``forget``) and an overall token bucket (10 qps, burst 100) that protects the apiserver when many keys
fail at once. Delayed adds keep the earliest requested time per key.

Everything runs on one asyncio loop; no locks are needed. The clock is injectable for tests. An optional
``metrics`` hook sees adds, gets, dones and retries exactly where client-go's queue reports them (the
controller kit's WorkLoop installs client-go's ``workqueue_*`` metrics through it).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Generic, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)


class QueueMetricsHook(Protocol):
    """What the queue reports (``skiff_client.controller.metrics.QueueMetrics`` implements it)."""

    def add(self, key: Hashable) -> None: ...
    def get(self, key: Hashable) -> None: ...
    def done(self, key: Hashable) -> None: ...
    def retry(self) -> None: ...
    def shutdown(self) -> None: ...


class ShutDown(Exception):
    """Raised by ``get`` once the queue is shut down and drained of waiting callers."""


class ItemExponentialLimiter(Generic[K]):
    """Per-key exponential backoff: base * 2**failures, capped."""

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, key: K) -> float:
        n = self._failures.get(key, 0)
        self._failures[key] = n + 1
        # Cap the exponent too: 2**n overflows float for large n.
        return float(min(self.base * (2 ** min(n, 64)), self.cap))

    def forget(self, key: K) -> None:
        self._failures.pop(key, None)

    def num_requeues(self, key: K) -> int:
        return self._failures.get(key, 0)


class TokenBucketLimiter:
    """Overall rate limit: each call reserves one token and returns how long to wait for it."""

    def __init__(self, qps: float = 10.0, burst: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def when(self, _key: object = None) -> float:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0  # reserve, possibly going into debt like golang.org/x/time/rate
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps


class MaxOfLimiter(Generic[K]):
    """client-go's DefaultControllerRateLimiter: the larger of both delays."""

    def __init__(self, item: ItemExponentialLimiter[K] | None = None, bucket: TokenBucketLimiter | None = None):
        self.item: ItemExponentialLimiter[K] = item or ItemExponentialLimiter()
        self.bucket = bucket or TokenBucketLimiter()

    def when(self, key: K) -> float:
        return max(self.item.when(key), self.bucket.when(key))

    def forget(self, key: K) -> None:
        self.item.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.item.num_requeues(key)


class RateLimitingQueue(Generic[K]):
    """Fair, stingy, delaying, rate-limited queue of keys (see the module docstring)."""

    def __init__(
        self, limiter: MaxOfLimiter[K] | None = None, *, name: str = "", metrics: QueueMetricsHook | None = None
    ) -> None:
        self.name = name
        self.metrics = metrics  # set once, before the first add (WorkLoop does it)
        self.limiter: MaxOfLimiter[K] = limiter or MaxOfLimiter()
        self._queue: collections.deque[K] = collections.deque()
        self._dirty: set[K] = set()
        self._processing: set[K] = set()
        self._waiting: dict[K, tuple[float, asyncio.TimerHandle]] = {}
        self._getters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._shutting_down = False

    # -- adding -----------------------------------------------------------------------------------
    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        if self.metrics is not None:
            self.metrics.add(key)
        if key in self._processing:
            return  # re-queued by done(): never two workers on one key
        self._queue.append(key)
        self._notify()

    def add_after(self, key: K, seconds: float) -> None:
        if self._shutting_down:
            return
        if seconds <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        at = loop.time() + seconds
        pending = self._waiting.get(key)
        if pending is not None:
            if pending[0] <= at:
                return  # an earlier wake-up is already scheduled
            pending[1].cancel()
        self._waiting[key] = (at, loop.call_at(at, self._fire, key))

    def add_rate_limited(self, key: K) -> None:
        if self.metrics is not None:
            self.metrics.retry()
        self.add_after(key, self.limiter.when(key))

    def forget(self, key: K) -> None:
        self.limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.limiter.num_requeues(key)

    def _fire(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    def _notify(self, everyone: bool = False) -> None:
        # Wake waiting getters with plain futures so add() can stay synchronous; a woken getter
        # re-checks the queue, so spurious wake-ups are harmless.
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                if not everyone:
                    return

    # -- taking -----------------------------------------------------------------------------------
    async def get(self) -> K:
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                # Pass our wake-up on, or a key could sit in the queue with a getter still waiting.
                if fut.done() and not fut.cancelled():
                    self._notify()
                raise
        key = self._queue.popleft()
        self._processing.add(key)
        self._dirty.discard(key)
        if self.metrics is not None:
            self.metrics.get(key)
        return key

    def done(self, key: K) -> None:
        self._processing.discard(key)
        if self.metrics is not None:
            self.metrics.done(key)
        if key in self._dirty and not self._shutting_down:
            self._queue.append(key)
            self._notify()

    def shutdown(self) -> None:
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._queue.clear()
        self._dirty.clear()
        if self.metrics is not None:
            self.metrics.shutdown()
        self._notify(everyone=True)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def __len__(self) -> int:
        return len(self._queue)

    async def __aiter__(self) -> AsyncIterator[K]:
        """Yield keys until shutdown; the caller must still call ``done`` for each."""
        while True:
            try:
                yield await self.get()
            except ShutDown:
                return
