"""The sync loop: changes are batched, syncs rate-limited, and the whole ruleset re-applied periodically.

kube-proxy's BoundedFrequencyRunner in small::

    change -> request()  -- marks dirty, counts pending changes, wakes the loop
    loop:  wait for dirty, or for sync_period since the last sync (periodic resync)
           wait until min_sync_period has passed since the last sync (bursts become one sync)
           text = render(); apply(text) unless unchanged since the last apply (periodic resyncs always
           apply, which repairs a ruleset someone else removed); on failure retry with backoff

Every apply is a whole-table transaction, so a sync is "the kernel now holds exactly the current
state" and there is nothing incremental to lose on a restart. Health follows kube-proxy: unhealthy
while a queued change has waited longer than twice the sync period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from skiff_common.observability import get_logger

from skiff_proxy import metrics
from skiff_proxy.kernel import ApplyError

log = get_logger(__name__)
MAX_RETRY_DELAY = 5.0


class Syncer:
    def __init__(
        self,
        render: Callable[[], str],
        apply: Callable[[str], Awaitable[None]],
        *,
        mode: str = "nftables",
        min_sync_period: float = 0.1,
        sync_period: float = 30.0,
        on_applied: Callable[[str, float], None] | None = None,
    ) -> None:
        self.render = render
        self.apply = apply
        self.mode = mode
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.on_applied = on_applied
        self._wake = asyncio.Event()
        self._dirty = False
        self._last_sync = 0.0  # monotonic time of the last attempt
        self._last_text: str | None = None
        self.queued_at: float | None = None  # wall time of the oldest unsynced change
        self.synced_at: float | None = None  # wall time of the last successful apply
        self.syncs = 0

    def request(self, *, endpoints: int = 0, services: int = 0) -> None:
        if endpoints:
            metrics.ENDPOINT_CHANGES_PENDING.inc(endpoints)
            metrics.ENDPOINT_CHANGES_TOTAL.inc(endpoints)
        if services:
            metrics.SERVICE_CHANGES_PENDING.inc(services)
            metrics.SERVICE_CHANGES_TOTAL.inc(services)
        if self.queued_at is None:
            self.queued_at = time.time()
            metrics.LAST_QUEUED.set(self.queued_at)
        self._dirty = True
        self._wake.set()

    def healthy(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        if self.synced_at is None:
            return False
        return self.queued_at is None or now - self.queued_at < 2 * self.sync_period

    async def sync(self, *, periodic: bool = False) -> None:
        """Render and apply once (the loop calls this; tests and --cleanup may too)."""
        self._dirty = False
        queued = self.queued_at
        self.queued_at = None
        metrics.ENDPOINT_CHANGES_PENDING.set(0)
        metrics.SERVICE_CHANGES_PENDING.set(0)
        start = time.monotonic()
        self._last_sync = start
        text = self.render()
        if text == self._last_text and not periodic:
            return
        try:
            await self.apply(text)
        except ApplyError:
            metrics.SYNC_FAILURES.labels(self.mode).inc()
            self._dirty = True
            self.queued_at = queued or time.time()
            raise
        elapsed = time.monotonic() - start
        metrics.SYNC_DURATION.observe(elapsed)
        metrics.FULL_SYNC_DURATION.observe(elapsed)
        self._last_text = text
        self.synced_at = time.time()
        self.syncs += 1
        metrics.LAST_SYNC.set(self.synced_at)
        if self.on_applied is not None:
            self.on_applied(text, self.synced_at)

    async def run(self) -> None:
        retry_delay = self.min_sync_period or 0.05
        while True:
            since = time.monotonic() - self._last_sync
            if not self._dirty:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), max(0.0, self.sync_period - since))
                except TimeoutError:
                    pass
            periodic = not self._dirty
            since = time.monotonic() - self._last_sync
            if since < self.min_sync_period:
                await asyncio.sleep(self.min_sync_period - since)
            try:
                await self.sync(periodic=periodic)
                retry_delay = self.min_sync_period or 0.05
            except ApplyError as exc:
                log.error("proxy.sync_failed", error=str(exc), retry_in=retry_delay)
                await asyncio.sleep(retry_delay)
                retry_delay = min(retry_delay * 2, MAX_RETRY_DELAY)
