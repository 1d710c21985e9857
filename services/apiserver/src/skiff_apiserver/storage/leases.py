"""TTL leases for objects that expire on their own (Events), shared the way Kubernetes shares them.

Granting one etcd lease per Event would cost a round trip and a lease object each; instead one lease is
granted with TTL = ttl + window and reused for every key attached during the next `window` seconds, so a
key lives between ttl and ttl + window seconds. Nothing renews these leases: expiring is their purpose.
When etcd expires a lease it deletes the keys, and the watch cache reports DELETED like any delete.
"""

from __future__ import annotations

import asyncio
import time

from skiff_apiserver.storage.etcd import EtcdClient


class LeaseManager:
    def __init__(self, client: EtcdClient, ttl: int, window: int = 60) -> None:
        self.client = client
        self.ttl = ttl
        self.window = window
        self._lease = 0
        self._granted = 0.0
        self._lock = asyncio.Lock()

    async def lease_id(self) -> int:
        async with self._lock:
            now = time.monotonic()
            if not self._lease or now - self._granted >= self.window:
                self._lease = await self.client.grant_lease(self.ttl + self.window)
                self._granted = now
            return self._lease
