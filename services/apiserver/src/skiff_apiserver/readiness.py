"""The apiserver's checks on the health endpoints of its metrics port (skiff_common.observability.health).

The REST API serves kube-apiserver's own /readyz (rest/health.py: etcd, watch caches, shutdown), but
the kubelet's probes speak plain HTTP, so probes ask the metrics port, as the Helm chart's do. There,
"ping" alone said ready while the apiserver was still waiting for etcd (unreachable, or refusing its
certificate) and served nothing. These checks make that port tell the truth: `apiserver-started` until
every listener is up, and `etcd` while a read of etcd's revision succeeded recently.

Checks on that port run on the HTTP thread and may not block, so a task reads etcd every few seconds
and the check only compares the time of the last success. Both are readiness checks: an etcd outage
takes the apiserver out of its Service, it does not restart it.
"""

from __future__ import annotations

import asyncio
import math
import time

from skiff_common import errors
from skiff_common.observability import health

from skiff_apiserver.storage.etcd import EtcdClient

ETCD_PERIOD = 5.0  # seconds between reads of etcd's revision
ETCD_STALE_AFTER = 15.0  # no successful read for this long: not ready
CHECKS = ("etcd", "apiserver-started")


class MetricsPortReadiness:
    def __init__(self, client: EtcdClient) -> None:
        self.client = client
        self.started = False
        self._etcd_seen = -math.inf

    def install(self) -> None:
        health.checks.add("etcd", self.etcd_fresh, readiness_only=True)
        health.checks.add("apiserver-started", lambda: self.started, readiness_only=True)

    def uninstall(self) -> None:
        for name in CHECKS:
            health.checks.remove(name)

    def saw_etcd(self) -> None:
        self._etcd_seen = time.monotonic()

    def etcd_fresh(self) -> bool:
        return time.monotonic() - self._etcd_seen < ETCD_STALE_AFTER

    async def run(self) -> None:
        while True:
            try:
                await self.client.current_revision()
                self.saw_etcd()
            except errors.SkiffError:
                pass  # the check goes stale by itself
            await asyncio.sleep(ETCD_PERIOD)
