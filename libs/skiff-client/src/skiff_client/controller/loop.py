"""WorkLoop: the one work loop -- a rate-limited queue of keys, N workers, Result/requeue, metrics.

Controllers, the kubelet's pod workers and the scheduler's queue all need the same thing: handlers
enqueue keys, workers take one key at a time and call ``reconcile(key)``. Written once here (as
controller-runtime's ``pkg/internal/controller``)::

    key = await queue.get()                      # never the same key in two workers (fair queue)
    try:   result = await reconcile(key)
           forget(key); result.requeue_after -> add_after(key, delay)
    except TerminalError: forget(key), log, drop until the object changes
    except Exception:     add_rate_limited(key)  # per-key exponential backoff, overall token bucket
    finally: done(key)

An error is logged as a warning, except a Conflict (optimistic concurrency doing its job) and the
``expected`` exception types a user names (the kubelet's RetryLater: "the image is still pulling"),
which are retried the same way and logged at info.

``reconcile`` gets only a key and must be idempotent: it may run again for a state already handled
(resyncs, duplicates) but never concurrently for one key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_client.controller.metrics import RECONCILE_ERRORS, RECONCILES, QueueMetrics
from skiff_client.workqueue import RateLimitingQueue, ShutDown

log = get_logger(__name__)


@dataclass(frozen=True)
class Result:
    """What a reconcile asks for beyond success: look again after ``requeue_after`` seconds."""

    requeue_after: float | None = None


class TerminalError(Exception):
    """Retrying cannot help (bad spec): drop the key until the object changes."""


Reconcile = Callable[[str], Awaitable[Result | None]]


class WorkLoop:
    def __init__(
        self,
        name: str,
        reconcile: Reconcile,
        *,
        workers: int = 2,
        queue: RateLimitingQueue[str] | None = None,
        wait_synced: Callable[[], Awaitable[None]] | None = None,
        expected: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.name = name
        self._quiet: tuple[type[BaseException], ...] = (errors.Conflict, *expected)
        self.reconcile = reconcile
        self.workers = workers
        self.queue: RateLimitingQueue[str] = queue if queue is not None else RateLimitingQueue(name=name)
        if self.queue.metrics is None:
            self.queue.metrics = QueueMetrics(name)
        self._wait_synced = wait_synced
        self.reconciles = 0  # reconciles finished (any result); for benchmarks and tests

    def enqueue(self, key: str) -> None:
        self.queue.add(key)

    async def run(self, wait_synced: Callable[[], Awaitable[None]] | None = None) -> None:
        """Wait for the caches (if given), then run the workers until cancelled or shut down."""
        waiter = wait_synced or self._wait_synced
        if waiter is not None:
            await waiter()
        log.info("workloop.started", name=self.name, workers=self.workers)
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def shutdown(self) -> None:
        """Stop taking keys; running reconciles finish, workers then return."""
        self.queue.shutdown()

    async def process_one(self, key: str) -> None:
        """Reconcile one key with the loop's error handling (the worker body; also used by tests)."""
        try:
            result = await self.reconcile(key)
            self.queue.forget(key)
            if result is not None and result.requeue_after is not None:
                self.queue.add_after(key, result.requeue_after)
                RECONCILES.labels(self.name, "requeue_after").inc()
            else:
                RECONCILES.labels(self.name, "success").inc()
        except asyncio.CancelledError:
            raise
        except TerminalError as exc:
            self.queue.forget(key)
            RECONCILES.labels(self.name, "terminal").inc()
            log.warning("workloop.terminal_error", name=self.name, key=key, error=str(exc))
        except Exception as exc:
            self.queue.add_rate_limited(key)
            RECONCILES.labels(self.name, "error").inc()
            RECONCILE_ERRORS.labels(self.name).inc()
            # A Conflict is optimistic concurrency doing its job (the cache was a step behind): retried
            # like any error, but not worth a warning.
            quiet = isinstance(exc, self._quiet)
            (log.info if quiet else log.warning)(
                "workloop.reconcile_failed",
                name=self.name,
                key=key,
                error=str(exc) or type(exc).__name__,
                retries=self.queue.num_requeues(key),
                exc_info=not quiet and not isinstance(exc, errors.SkiffError),  # a bug: keep the traceback
            )
        finally:
            self.reconciles += 1

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.process_one(key)
            finally:
                self.queue.done(key)
