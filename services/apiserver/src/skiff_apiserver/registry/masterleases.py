"""Master leases: one etcd key per live apiserver, kept alive by that apiserver, gone when it is not.

Kubernetes' lease endpoint reconciler (`--endpoint-reconciler-type=lease`) stores `/masterleases/<ip>` with
a TTL and rewrites it every endpoint interval; the keys that still exist are the apiservers that are alive.
Skiff does the same under `<etcd-prefix>/masterleases/`, with two differences:

* The key is `<ip>:<port>`, not `<ip>`: on one machine every control-plane member advertises the same
  address (the node bridge's host address, or the pod gateway without a node network) on its own REST
  port, so the address alone would not tell them apart.
* The TTL is an etcd lease granted at each refresh: the key is re-put with the new lease and the previous
  lease is revoked (the key no longer hangs on it), so each apiserver holds one lease at a time. A refresh
  is one grant, one put and one revoke, every ten seconds: cheaper than a keep-alive stream to babysit.

A killed apiserver stops refreshing and etcd deletes its key when the TTL runs out; one stopped cleanly
deletes its key at once (`remove`). etcd keeps leases across its own restarts (a restarted leader extends
their TTLs), so a restart of etcd drops nobody. The value is `{"ip": ..., "port": ...}` in JSON; a key
whose value does not parse is skipped (never someone else's business to repair).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from skiff_apiserver.storage.etcd import EtcdClient, prefix_end

DEFAULT_TTL = 15  # seconds: Kubernetes' DefaultEndpointReconcilerTTL
DEFAULT_INTERVAL = 10.0  # seconds between refreshes: Kubernetes' EndpointInterval


@dataclass(frozen=True, order=True)
class Master:
    """One apiserver as its clients reach it: the advertised address and the API port there."""

    ip: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port}"


def parse_master(raw: bytes) -> Master | None:
    try:
        data = json.loads(raw)
        ip, port = str(ipaddress.ip_address(data["ip"])), int(data["port"])
    except (ValueError, TypeError, KeyError):
        return None
    return Master(ip, port) if 0 < port < 65536 else None


class MasterLeases:
    def __init__(self, client: EtcdClient, etcd_prefix: str, ttl: int = DEFAULT_TTL) -> None:
        self.client = client
        self.prefix = f"{etcd_prefix.rstrip('/')}/masterleases/".encode()
        self.ttl = ttl
        self._held: dict[Master, int] = {}  # the lease each of our keys hangs on

    def key(self, master: Master) -> bytes:
        return self.prefix + str(master).encode()

    async def update(self, master: Master) -> None:
        """(Re)write `master`'s key with a fresh TTL."""
        lease = await self.client.grant_lease(self.ttl)
        value = json.dumps({"ip": master.ip, "port": master.port}).encode()
        # A failed put leaves the new lease to expire on its own: revoking it could delete the key, if
        # the put landed and only its reply was lost.
        await self.client.put(self.key(master), value, lease=lease)
        previous = self._held.get(master)
        self._held[master] = lease
        if previous is not None and previous != lease:
            await self.client.revoke_lease(previous)

    async def remove(self, master: Master) -> None:
        """Delete `master`'s key now (a clean shutdown), and the lease it hung on."""
        await self.client.delete_key(self.key(master))
        lease = self._held.pop(master, None)
        if lease is not None:
            await self.client.revoke_lease(lease)

    async def live(self) -> list[Master]:
        """Every apiserver whose key exists, sorted."""
        kvs, _, _ = await self.client.range(self.prefix, prefix_end(self.prefix))
        return sorted({m for kv in kvs if (m := parse_master(kv.value)) is not None})
