"""What the proxy programs, as plain values: one `ServicePort` per (Service, port) with its endpoints.

Built from the informers' Services and EndpointSlices by a pure function, so that the rule renderers
(nftables.py, iptables.py) take nothing but values and are table-tested on their text. The choices are
kube-proxy's:

* ClusterIP Services only have virtual IPs: headless (``clusterIP: None``) and ExternalName Services
  are skipped (DNS serves them).
* Slices are joined by the ``kubernetes.io/service-name`` label; a slice port matches a Service port by
  name and protocol, and its number is the endpoint's (named targetPorts were resolved per pod by the
  EndpointSlice controller). Only IPv4 slices are read; an endpoint's first address is used.
* Ready endpoints receive traffic; when none is ready, endpoints that are still serving while
  terminating do (kube-proxy's ProxyTerminatingEndpoints), so a rolling update does not drop traffic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
DEFAULT_AFFINITY_SECONDS = 10800  # Kubernetes' default ClientIP timeout (3 hours)


@dataclass(frozen=True, order=True)
class Backend:
    ip: str
    port: int


@dataclass(frozen=True)
class ServicePort:
    namespace: str
    name: str
    port_name: str
    protocol: str  # "tcp", "udp" or "sctp", as nft spells it
    cluster_ip: str
    port: int
    node_port: int = 0
    affinity_seconds: int = 0  # 0: no session affinity
    endpoints: tuple[Backend, ...] = ()

    @property
    def key(self) -> str:
        """ns/name/proto/port -- kube-proxy's ServicePortName, readable in chain names and logs."""
        return f"{self.namespace}/{self.name}/{self.protocol}/{self.port_name or self.port}"


def _ready_backends(slices: Iterable[Any], port_name: str, protocol: str) -> tuple[Backend, ...]:
    ready: set[Backend] = set()
    terminating: set[Backend] = set()
    for s in slices:
        if s.address_type != "IPv4":
            continue
        number = next(
            (p.port for p in s.ports if p.name == port_name and (p.protocol or "TCP") == protocol and p.port),
            None,
        )
        if number is None:
            continue
        for ep in s.endpoints:
            if not ep.addresses:
                continue
            c = ep.conditions
            backend = Backend(ep.addresses[0], int(number))
            is_ready = c.ready if c.HasField("ready") else True  # unknown means ready
            if is_ready:
                ready.add(backend)
            elif (c.serving if c.HasField("serving") else is_ready) and c.terminating:
                terminating.add(backend)
    return tuple(sorted(ready or terminating))


def _affinity_timeout(spec: Any) -> int:
    """sessionAffinityConfig.clientIP.timeoutSeconds when the API carries it, else Kubernetes' default."""
    if "session_affinity_config" in spec.DESCRIPTOR.fields_by_name:
        seconds = int(spec.session_affinity_config.client_ip.timeout_seconds)
        if seconds > 0:
            return seconds
    return DEFAULT_AFFINITY_SECONDS


def _service_ports(svc: Any, mine: list[Any]) -> list[ServicePort]:
    spec = svc.spec
    affinity = _affinity_timeout(spec) if spec.session_affinity == "ClientIP" else 0
    out = []
    for p in spec.ports:
        protocol = p.protocol or "TCP"
        out.append(
            ServicePort(
                namespace=svc.metadata.namespace,
                name=svc.metadata.name,
                port_name=p.name,
                protocol=protocol.lower(),
                cluster_ip=spec.cluster_ip,
                port=int(p.port),
                node_port=int(p.node_port) if spec.type in ("NodePort", "LoadBalancer") else 0,
                affinity_seconds=affinity,
                endpoints=_ready_backends(mine, p.name, protocol),
            )
        )
    return out


def _proxied(svc: Any) -> bool:
    return svc.spec.type != "ExternalName" and svc.spec.cluster_ip not in ("", "None")


def _group_slices(slices: Iterable[Any]) -> dict[tuple[str, str], list[Any]]:
    by_service: dict[tuple[str, str], list[Any]] = {}
    for s in slices:
        owner = s.metadata.labels.get(SERVICE_NAME_LABEL)
        if owner:
            by_service.setdefault((s.metadata.namespace, owner), []).append(s)
    return by_service


def build(services: Iterable[Any], slices: Iterable[Any]) -> list[ServicePort]:
    """Every ServicePort the node should serve, in a stable order."""
    by_service = _group_slices(slices)
    out = [
        sp
        for svc in services
        if _proxied(svc)
        for sp in _service_ports(svc, by_service.get((svc.metadata.namespace, svc.metadata.name), []))
    ]
    out.sort(key=lambda sp: sp.key)
    return out


class ModelCache:
    """`build` for a sync loop: a Service's ServicePorts are recomputed only when its resourceVersion or
    one of its slices' changed, so a sync after one endpoint change reads one Service's objects, not
    every endpoint of the cluster (the proxy's latency is dominated by this at 1,000 Services)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[str, str], tuple[tuple[Any, ...], list[ServicePort]]] = {}

    def build(self, services: Iterable[Any], slices: Iterable[Any]) -> list[ServicePort]:
        by_service = _group_slices(slices)
        fresh: dict[tuple[str, str], tuple[tuple[Any, ...], list[ServicePort]]] = {}
        out: list[ServicePort] = []
        for svc in services:
            if not _proxied(svc):
                continue
            key = (svc.metadata.namespace, svc.metadata.name)
            mine = by_service.get(key, [])
            stamp = (
                svc.metadata.resource_version,
                tuple(sorted((s.metadata.name, s.metadata.resource_version) for s in mine)),
            )
            hit = self._memo.get(key)
            ports = hit[1] if hit is not None and hit[0] == stamp else _service_ports(svc, mine)
            fresh[key] = (stamp, ports)
            out += ports
        self._memo = fresh
        out.sort(key=lambda sp: sp.key)
        return out
