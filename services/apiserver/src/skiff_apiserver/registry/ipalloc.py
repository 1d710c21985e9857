"""ClusterIP allocation for Services, consistent across apiserver replicas.

Each allocated IP is an etcd key <prefix>/ranges/serviceips/<ip> whose value names its Service; taking an
IP is a create transaction, so two replicas can never hand out the same address. A Service that asks for a
specific IP gets it if it is free and in range; otherwise a random free one is drawn (random, not
sequential, so replicas rarely race for the same address). The IP is released when the Service is
removed, or at once if creating the Service fails after the IP was taken.
"""

from __future__ import annotations

import ipaddress
import random

from skiff_common import errors

from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient


class ClusterIPAllocator:
    def __init__(self, client: EtcdClient, prefix: str, cidr: str) -> None:
        self.client = client
        self.prefix = f"{prefix.rstrip('/')}/ranges/serviceips/"
        self.network = ipaddress.ip_network(cidr, strict=False)
        if self.network.num_addresses < 4:
            raise ValueError(f"--service-cluster-ip-range {cidr} is too small")

    def _key(self, ip: str) -> bytes:
        return (self.prefix + ip).encode()

    def _invalid(self, ip: str, detail: str) -> errors.Invalid:
        return errors.Invalid(
            "Service is invalid", [errors.FieldError("spec.clusterIP", "Invalid value", f"{ip!r}: {detail}")]
        )

    async def allocate(self, owner: str, wanted: str = "") -> str:
        if wanted:
            try:
                addr = ipaddress.ip_address(wanted)
            except ValueError:
                raise self._invalid(wanted, "must be a valid IP address") from None
            if addr not in self.network or addr in (
                self.network.network_address,
                self.network.broadcast_address,
            ):
                raise self._invalid(wanted, f"provided IP is not in the valid range {self.network}")
            try:
                await self.client.create(self._key(wanted), owner.encode())
            except CompareFailed:
                raise self._invalid(wanted, "provided IP is already allocated") from None
            return wanted
        size = self.network.num_addresses
        for _ in range(64):
            # .1 is kept for a future "kubernetes" service, like Kubernetes does.
            ip = str(self.network.network_address + random.randrange(2, size - 1))
            try:
                await self.client.create(self._key(ip), owner.encode())
                return ip
            except CompareFailed:
                continue
        raise errors.InternalError(f"could not allocate a cluster IP in {self.network}: range is (nearly) full")

    async def release(self, ip: str) -> None:
        if not ip or ip == "None":
            return
        kv, _ = await self.client.get(self._key(ip))
        if kv is not None:
            try:
                await self.client.delete(kv.key, kv.mod_revision)
            except CompareFailed:
                pass
