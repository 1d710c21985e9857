"""The sync loop: changes are batched, syncs rate-limited, and the whole ruleset re-applied periodically.

kube-proxy's BoundedFrequencyRunner in small::

    change -> request()  -- marks dirty, counts pending changes, wakes the loop
    loop:  wait for dirty, or for sync_period since the last sync (periodic resync)
           wait until min_sync_period has passed since the last sync (bursts become one sync)
           desired = render(); nothing when unchanged; else apply the delta from what was applied last
           (one transaction rewriting only changed chains and map elements), or the whole table
           (first sync, after a failed apply, and on the first periodic resync after
           full_sync_period -- kube-proxy's hourly full sync, which repairs a ruleset someone else
           changed; a full rebuild of 1,000 Services costs seconds of nft time, too much for every
           sync_period); on failure retry with backoff

Either way one `nft -f` transaction: the kernel never holds half a ruleset, and a restart starts with
a full rebuild, so there is nothing incremental to lose. Health follows kube-proxy: unhealthy
while a queued change has waited longer than twice the sync period.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from skiff_common.observability import get_logger

from skiff_proxy import metrics
from skiff_proxy.kernel import ApplyError
from skiff_proxy.modes import Desired

log = get_logger(__name__)
MAX_RETRY_DELAY = 5.0


class Syncer:
    def __init__(
        self,
        render: Callable[[], Desired],
        apply: Callable[[str], Awaitable[None]],
        *,
        mode: str = "nftables",
        min_sync_period: float = 0.1,
        sync_period: float = 30.0,
        full_sync_period: float = 3600.0,
        on_applied: Callable[[str, float], None] | None = None,
    ) -> None:
        self.render = render
        self.apply = apply
        self.mode = mode
        self.min_sync_period = min_sync_period
        self.sync_period = sync_period
        self.full_sync_period = full_sync_period
        self._last_full = 0.0  # monotonic time of the last full rebuild
        self.on_applied = on_applied
        self._wake = asyncio.Event()
        self._dirty = False
        self._last_sync = 0.0  # monotonic time of the last attempt
        self._last: Desired | None = None  # what the kernel holds (None: unknown, rebuild it)
        self.queued_at: float | None = None  # wall time of the oldest unsynced change
        self.synced_at: float | None = None  # wall time of the last successful apply
        self.syncs = 0
        self.full_syncs = 0

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
        """Render and apply once (the loop calls this; tests may too). `periodic` forces a full rebuild."""
        self._dirty = False
        queued = self.queued_at
        self.queued_at = None
        metrics.ENDPOINT_CHANGES_PENDING.set(0)
        metrics.SERVICE_CHANGES_PENDING.set(0)
        start = time.monotonic()
        self._last_sync = start
        desired = self.render()
        if desired == self._last and not periodic:
            return
        text = None if periodic or self._last is None else desired.delta(self._last)
        full = text is None
        if text is None:
            text = desired.full()
        try:
            await self.apply(text)
        except ApplyError:
            metrics.SYNC_FAILURES.labels(self.mode).inc()
            self._dirty = True
            self._last = None  # the kernel may differ from what we think: rebuild next time
            self.queued_at = queued or time.time()
            raise
        elapsed = time.monotonic() - start
        metrics.SYNC_DURATION.observe(elapsed)
        if full:
            metrics.FULL_SYNC_DURATION.observe(elapsed)
            self._last_full = time.monotonic()
        self._last = desired
        self.synced_at = time.time()
        self.syncs += 1
        self.full_syncs += int(full)
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
            periodic = not self._dirty and time.monotonic() - self._last_full >= self.full_sync_period
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
