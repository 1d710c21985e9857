"""ClusterIP allocation for Services from --service-cluster-ip-range (one etcd key per IP, allocator.py).

As in Kubernetes: a requested IP is given if it is in the range and free, else a field error; the network
and broadcast addresses are never given; the first address belongs to the `kubernetes` Service
(bootstrap.py) and is never drawn at random. Random draws prefer the upper part of the range and fall back
to the lower band (KEP-3070), so the low addresses well-known Services ask for by number (the DNS Service
on the 10th) stay free for them.
"""

from __future__ import annotations

import ipaddress

from skiff_apiserver.registry.allocator import KeyAllocator
from skiff_apiserver.storage.etcd import EtcdClient


class RangeError(Exception):
    """A requested item is outside the range, already taken, or not valid; str() is the detail."""


class ClusterIPAllocator:
    def __init__(self, client: EtcdClient, prefix: str, cidr: str) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as exc:
            raise ValueError(f"--service-cluster-ip-range {cidr!r}: {exc}") from None
        size = self.network.num_addresses
        if size < 8:
            raise ValueError(f"--service-cluster-ip-range {cidr} is too small")
        self.keys = KeyAllocator(client, prefix, "serviceips")
        # Offsets 2 .. size-2: not the network address, the first (kubernetes) address nor the broadcast.
        low = min(max(16, size // 16), 256, size - 1)
        self._bands = (range(low, size - 1), range(2, low))

    @property
    def first(self) -> str:
        """The address of the `kubernetes` Service."""
        return str(self.network.network_address + 1)

    @staticmethod
    def first_address(cidr: str) -> str:
        return str(ipaddress.ip_network(cidr, strict=False).network_address + 1)

    def _at(self, offset: int) -> str:
        return str(self.network.network_address + offset)

    def check(self, wanted: str) -> None:
        try:
            addr = ipaddress.ip_address(wanted)
        except ValueError:
            raise RangeError("must be a valid IP address, or None for a headless Service") from None
        if addr not in self.network or addr in (self.network.network_address, self.network.broadcast_address):
            raise RangeError(
                f"failed to allocate IP {wanted}: the provided IP ({wanted}) is not in the valid range. "
                f"The range of valid IPs is {self.network}"
            )

    async def allocate(self, owner: str, wanted: str = "", *, dry_run: bool = False) -> str:
        """`wanted` or a free IP; dry_run: check `wanted` is free and in range, take nothing ("" if none
        was wanted)."""
        if wanted:
            self.check(wanted)
            free = await self.keys.holder(wanted) is None if dry_run else await self.keys.take(wanted, owner)
            if not free:
                raise RangeError(f"failed to allocate IP {wanted}: provided IP is already allocated")
            return wanted
        if dry_run:
            return ""
        ip = await self.keys.take_any(owner, self._bands, self._at)
        if ip is None:
            raise RangeError(f"failed to allocate a service IP: range {self.network} is full")
        return ip

    async def release(self, ip: str, owner: str) -> None:
        if ip and ip != "None":
            await self.keys.release(ip, owner)
