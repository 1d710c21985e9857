"""Building Services and Endpoints, and asking a handler a question, for the DNS tests."""

from __future__ import annotations

import dns.message
import dns.rdatatype
from skiff.api.core.v1 import service_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client.store import Store
from skiff_dns.answer import Resolver
from skiff_dns.forward import Forwarder
from skiff_dns.handler import QueryHandler
from skiff_dns.source import EndpointsSource
from skiff_dns.view import ClusterView


def service(
    name: str,
    namespace: str = "default",
    *,
    cluster_ip: str = "",
    ports: list[tuple[str, int, str]] = (),  # type: ignore[assignment]
    external_name: str = "",
) -> service_pb2.Service:
    svc = service_pb2.Service(
        api_version="v1", kind="Service", metadata=meta_pb2.ObjectMeta(name=name, namespace=namespace)
    )
    svc.spec.cluster_ip = cluster_ip
    if external_name:
        svc.spec.type, svc.spec.external_name = "ExternalName", external_name
    else:
        svc.spec.type = "ClusterIP"
    for pname, port, proto in ports:
        svc.spec.ports.add(name=pname, port=port, protocol=proto)
    return svc


def endpoints(
    name: str,
    namespace: str = "default",
    *,
    addresses: list[tuple[str, str]] = (),  # type: ignore[assignment]
    not_ready: list[str] = (),  # type: ignore[assignment]
    ports: list[tuple[str, int, str]] = (),  # type: ignore[assignment]
) -> service_pb2.Endpoints:
    ep = service_pb2.Endpoints(
        api_version="v1", kind="Endpoints", metadata=meta_pb2.ObjectMeta(name=name, namespace=namespace)
    )
    subset = ep.subsets.add()
    for ip, hostname in addresses:
        subset.addresses.add(ip=ip, hostname=hostname)
    for ip in not_ready:
        subset.not_ready_addresses.add(ip=ip)
    for pname, port, proto in ports:
        subset.ports.add(name=pname, port=port, protocol=proto)
    return ep


class Cluster:
    """Stores filled by hand (no apiserver): the answer logic is pure."""

    def __init__(self, zone: str = "cluster.local", ttl: int = 5) -> None:
        self.services: Store[service_pb2.Service] = Store()
        self.endpoints: Store[service_pb2.Endpoints] = Store()
        view = ClusterView(self.services, EndpointsSource(self.endpoints))
        self.resolver = Resolver(view, zone, ttl)
        self.handler = QueryHandler(self.resolver, Forwarder([]), "dns://127.0.0.1:53")

    def add(self, *objs: service_pb2.Service | service_pb2.Endpoints) -> Cluster:
        for obj in objs:
            (self.services if isinstance(obj, service_pb2.Service) else self.endpoints).put(obj)  # type: ignore[arg-type]
        self.handler.cache.invalidate()  # what the informer handlers do in the app
        return self

    def remove(self, kind: str, key: str) -> None:
        (self.services if kind == "Service" else self.endpoints).remove(key)
        self.handler.cache.invalidate()

    def ask(
        self, name: str, rdtype: str = "A", *, proto: str = "udp", payload: int | None = None
    ) -> dns.message.Message:
        query = dns.message.make_query(name, rdtype, use_edns=payload is not None, payload=payload or 512)
        out = self.handler.handle(query.to_wire(), proto, "1")
        assert isinstance(out, bytes), "in-zone answers are synchronous"
        return dns.message.from_wire(out)


def records(msg: dns.message.Message, section: str = "answer") -> set[tuple[str, str, str]]:
    """(owner, type, rdata) of every record in a section, owners and targets as text."""
    return {
        (rrset.name.to_text(), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
        for rrset in getattr(msg, section)
        for rd in rrset
    }
