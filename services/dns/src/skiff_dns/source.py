"""Where the addresses behind a Service come from: a small interface with one implementation per API kind.

Headless Services answer with their ready endpoints, and PTR queries need the reverse (IP -> endpoint).
Kubernetes moved from core/v1 Endpoints to discovery.k8s.io/v1 EndpointSlices; CoreDNS reads slices when
the API serves them, and so does skiff-dns: ``detect_source`` asks the apiserver which resources it
serves and picks ``EndpointSliceSource`` when ``endpointslices`` is among them (and this build knows the
kind), else ``EndpointsSource``. Slices are read through their fields only (``endpoints[].addresses``,
``conditions.ready``, ``hostname``, ``ports``, the ``kubernetes.io/service-name`` label), so this module
needs no generated class of its own for them.

Only ready addresses are served: the endpoints controller already puts not-ready pods of a Service with
``publishNotReadyAddresses`` among the ready ones, as Kubernetes does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from google.protobuf.message import Message
from skiff.api.core.v1 import service_pb2
from skiff_client import ApiClient
from skiff_client.store import Store
from skiff_common import errors
from skiff_common.apimachinery import kinds

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


SERVICE_NAME_LABEL = "kubernetes.io/service-name"
SERVICE_INDEX = "service"


def _slice_service(obj: Any) -> list[str]:
    name = obj.metadata.labels.get(SERVICE_NAME_LABEL, "")
    return [f"{obj.metadata.namespace}/{name}"] if name else []


def _ready(endpoint: Any) -> bool:
    """EndpointConditions.ready: an unset value means ready (discovery.k8s.io/v1 semantics)."""
    return not endpoint.conditions.HasField("ready") or bool(endpoint.conditions.ready)


def _slice_ips(obj: Any) -> list[str]:
    if obj.address_type not in ("IPv4", "IPv6"):
        return []
    return sorted({ip for e in obj.endpoints if _ready(e) for ip in e.addresses})


class EndpointSliceSource:
    """discovery.k8s.io/v1 EndpointSlices, indexed by the Service they belong to; one group per slice
    (a slice's endpoints all serve its ports). FQDN slices carry no IPs and are ignored, as CoreDNS does."""

    def __init__(self, store: Store[Any]) -> None:
        self.store = store
        store.add_indexer(SERVICE_INDEX, _slice_service)
        store.add_indexer(IP_INDEX, _slice_ips)

    def groups(self, namespace: str, service: str) -> Sequence[EndpointGroup]:
        out = []
        for obj in self.store.by_index(SERVICE_INDEX, f"{namespace}/{service}"):
            if obj.address_type not in ("IPv4", "IPv6"):
                continue
            addresses = tuple(
                Address(ip, e.hostname if e.HasField("hostname") else "")
                for e in obj.endpoints
                if _ready(e)
                for ip in e.addresses
            )
            ports = tuple(Port(p.name, p.port, p.protocol or "TCP") for p in obj.ports)
            if addresses:
                out.append(EndpointGroup(addresses, ports))
        return out

    def by_ip(self, ip: str) -> Sequence[tuple[str, str, Address]]:
        out: list[tuple[str, str, Address]] = []
        for obj in self.store.by_index(IP_INDEX, ip):
            ns, service = obj.metadata.namespace, obj.metadata.labels.get(SERVICE_NAME_LABEL, "")
            for group in self.groups(ns, service):
                out.extend((ns, service, a) for a in group.addresses if a.ip == ip)
        return out


SOURCES: dict[str, Callable[[Store[Any]], EndpointSource]] = {
    "endpoints": EndpointsSource,
    "endpointslices": EndpointSliceSource,
}


def source_message(resource: str) -> type[Message] | None:
    """The generated message class of a source's resource; None when this build does not know the kind."""
    if resource == "endpoints":
        return service_pb2.Endpoints
    try:
        return kinds.lookup_resource(resource).message
    except errors.NotFound:
        return None


async def detect_source(api: ApiClient) -> str:
    """ "endpointslices" when the apiserver serves discovery.k8s.io/v1 EndpointSlices and this build knows
    the kind, else "endpoints"."""
    served = {(r.name, r.api_version) for r in await api.list_resources()}
    if ("endpointslices", "discovery.k8s.io/v1") in served and source_message("endpointslices") is not None:
        return "endpointslices"
    return "endpoints"
