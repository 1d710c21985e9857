"""The generic level-triggered controller: informer handlers enqueue keys, workers reconcile them.

    key = await queue.get()
    try:   result = await reconcile(key)      # reads the cache, writes the API
           forget(key); requeue_after -> add_after
    except TerminalError: forget(key), Event/log, drop
    except Exception:     add_rate_limited(key)  (exponential per-key backoff, global token bucket)
    finally: done(key)

``reconcile`` gets only a key and must be idempotent: it may run for a state already handled (resyncs,
duplicates), never concurrently for the same key (the queue guarantees that). Objects from the cache
are shared and must be copied before mutation.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client import Counter, Gauge, Histogram
from skiff_client import ApiClient, EventRecorder, InformerFactory, RateLimitingQueue, ShutDown
from skiff_common.observability import get_logger

log = get_logger(__name__)

RECONCILES = Counter(
    "skiff_controller_reconciles_total", "Reconciles by controller and result", ["controller", "result"]
)
RECONCILE_SECONDS = Histogram("skiff_controller_reconcile_duration_seconds", "Reconcile duration", ["controller"])
QUEUE_DEPTH = Gauge("skiff_controller_queue_depth", "Keys waiting in the work queue", ["controller"])


@dataclass(frozen=True)
class Result:
    requeue_after: float | None = None


class TerminalError(Exception):
    """Retrying cannot help (bad spec): drop the key until the object changes."""


@dataclass
class ControllerContext:
    api: ApiClient
    factory: InformerFactory
    events: EventRecorder


class Controller:
    name: ClassVar[str] = "controller"
    workers: ClassVar[int] = 2

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(name=self.name)

    async def wait_synced(self) -> None:
        await self.ctx.factory.wait_synced()

    async def reconcile(self, key: str) -> Result | None:
        raise NotImplementedError

    async def run(self) -> None:
        await self.wait_synced()
        log.info("controller.started", controller=self.name, workers=self.workers)
        tasks = [asyncio.create_task(self._worker(), name=f"{self.name}-worker-{i}") for i in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shutdown()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            QUEUE_DEPTH.labels(self.name).set(len(self.queue))
            start = time.monotonic()
            try:
                result = await self.reconcile(key)
                self.queue.forget(key)
                if result is not None and result.requeue_after is not None:
                    self.queue.add_after(key, result.requeue_after)
                RECONCILES.labels(self.name, "success").inc()
            except asyncio.CancelledError:
                raise
            except TerminalError as exc:
                self.queue.forget(key)
                RECONCILES.labels(self.name, "terminal").inc()
                log.warning("controller.terminal_error", controller=self.name, key=key, error=str(exc))
            except Exception as exc:
                self.queue.add_rate_limited(key)
                RECONCILES.labels(self.name, "error").inc()
                log.warning(
                    "controller.reconcile_failed",
                    controller=self.name,
                    key=key,
                    error=str(exc),
                    retries=self.queue.num_requeues(key),
                )
            finally:
                RECONCILE_SECONDS.labels(self.name).observe(time.monotonic() - start)
                self.queue.done(key)
