"""Where the addresses behind a Service come from: a small interface with one implementation per API kind.

Headless Services answer with their ready endpoints, and PTR queries need the reverse (IP -> endpoint).
Kubernetes moved from core/v1 Endpoints to discovery.k8s.io/v1 EndpointSlices; CoreDNS reads slices when
the API serves them. Skiff serves only Endpoints today, so ``EndpointsSource`` is the one implementation;
an EndpointSlice source (slices indexed by their ``kubernetes.io/service-name`` label, ready endpoints by
``conditions.ready``) plugs in behind the same ``EndpointSource`` protocol and ``SOURCES`` table.

Only ready addresses are served: the endpoints controller already puts not-ready pods of a Service with
``publishNotReadyAddresses`` among the ready ones, as Kubernetes does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from skiff.api.core.v1 import service_pb2
from skiff_client.store import Store

IP_INDEX = "ip"


@dataclass(frozen=True)
class Address:
    ip: str
    hostname: str  # "" when the pod has no hostname+subdomain


@dataclass(frozen=True)
class Port:
    name: str
    port: int
    protocol: str  # "TCP", "UDP", "SCTP"


@dataclass(frozen=True)
class EndpointGroup:
    """Addresses that all serve the same ports (an Endpoints subset, or one EndpointSlice)."""

    addresses: tuple[Address, ...]
    ports: tuple[Port, ...]


class EndpointSource(Protocol):
    def groups(self, namespace: str, service: str) -> Sequence[EndpointGroup]:
        """The ready endpoints of a Service; empty when it has none (or no endpoints object)."""
        ...

    def by_ip(self, ip: str) -> Sequence[tuple[str, str, Address]]:
        """(namespace, service, address) of every ready endpoint with this IP."""
        ...


def _endpoint_ips(obj: Any) -> list[str]:
    return sorted({a.ip for s in obj.subsets for a in s.addresses})


class EndpointsSource:
    """core/v1 Endpoints from an informer's store; converted groups are memoised per stored object, so a
    query converts an Endpoints object only the first time after it changed."""

    def __init__(self, store: Store[service_pb2.Endpoints]) -> None:
        self.store = store
        store.add_indexer(IP_INDEX, _endpoint_ips)
        self._memo: dict[str, tuple[service_pb2.Endpoints, tuple[EndpointGroup, ...]]] = {}

    def groups(self, namespace: str, service: str) -> Sequence[EndpointGroup]:
        key = f"{namespace}/{service}"
        obj = self.store.get(key)
        if obj is None:
            self._memo.pop(key, None)
            return ()
        memo = self._memo.get(key)
        if memo is not None and memo[0] is obj:
            return memo[1]
        groups = tuple(
            EndpointGroup(
                tuple(Address(a.ip, a.hostname) for a in s.addresses),
                tuple(Port(p.name, p.port, p.protocol or "TCP") for p in s.ports),
            )
            for s in obj.subsets
            if s.addresses
        )
        self._memo[key] = (obj, groups)
        return groups

    def by_ip(self, ip: str) -> Sequence[tuple[str, str, Address]]:
        out: list[tuple[str, str, Address]] = []
        for obj in self.store.by_index(IP_INDEX, ip):
            for group in self.groups(obj.metadata.namespace, obj.metadata.name):
                out.extend((obj.metadata.namespace, obj.metadata.name, a) for a in group.addresses if a.ip == ip)
        return out


SOURCES: dict[str, Callable[[Store[Any]], EndpointSource]] = {"endpoints": EndpointsSource}
