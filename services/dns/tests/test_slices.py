"""EndpointSlices as the endpoint source. The generated EndpointSlice class arrives with the dataplane
work; the source reads slices by their fields only, so these tests give it plain objects of the same
shape (discovery.k8s.io/v1: endpoints[].addresses, conditions.ready, hostname, ports)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dns.message
import dns.rcode
from dns_helpers import records, service
from skiff.api.core.v1 import service_pb2
from skiff_client.store import Store
from skiff_dns.answer import Resolver
from skiff_dns.forward import Forwarder
from skiff_dns.handler import QueryHandler
from skiff_dns.source import EndpointSliceSource
from skiff_dns.view import ClusterView

Z = "cluster.local."


@dataclass
class Meta:
    name: str
    namespace: str
    labels: dict[str, str]


@dataclass
class Conditions:
    ready: bool | None = None

    def HasField(self, name: str) -> bool:
        return getattr(self, name) is not None


@dataclass
class Endpoint:
    addresses: list[str]
    conditions: Conditions = field(default_factory=Conditions)
    hostname: str | None = None

    def HasField(self, name: str) -> bool:
        return getattr(self, name) is not None


@dataclass
class SlicePort:
    name: str
    port: int
    protocol: str = "TCP"


@dataclass
class Slice:
    metadata: Meta
    endpoints: list[Endpoint]
    ports: list[SlicePort]
    address_type: str = "IPv4"


def make_slice(name: str, svc: str, endpoints: list[Endpoint], address_type: str = "IPv4") -> Slice:
    meta = Meta(name, "default", {"kubernetes.io/service-name": svc})
    return Slice(meta, endpoints, [SlicePort("pg", 5432)], address_type)


def resolver_over(slices: list[Slice]) -> tuple[QueryHandler, Store[service_pb2.Service]]:
    services: Store[service_pb2.Service] = Store()
    services.put(service("db", cluster_ip="None", ports=[("pg", 5432, "TCP")]))
    store: Store[Slice] = Store()  # type: ignore[type-var]
    for s in slices:
        store.put(s)
    view = ClusterView(services, EndpointSliceSource(store))
    return QueryHandler(Resolver(view, "cluster.local", 5), Forwarder([]), "dns://127.0.0.1:53"), services


def ask(handler: QueryHandler, name: str, rdtype: str = "A") -> dns.message.Message:
    out = handler.handle(dns.message.make_query(name, rdtype).to_wire(), "udp", "1")
    assert isinstance(out, bytes)
    return dns.message.from_wire(out)


def test_ready_endpoints_of_every_slice_of_the_service() -> None:
    handler, _ = resolver_over(
        [
            make_slice(
                "db-a", "db", [Endpoint(["10.88.0.7"], hostname="db-0"), Endpoint(["10.88.0.8"], Conditions(False))]
            ),
            make_slice("db-b", "db", [Endpoint(["10.88.0.9"], Conditions(True))]),
            make_slice("other", "web", [Endpoint(["10.88.0.50"])]),
            make_slice("db-fqdn", "db", [Endpoint(["example.com"])], address_type="FQDN"),
        ]
    )
    assert records(ask(handler, "db.default.svc.cluster.local")) == {
        (f"db.default.svc.{Z}", "A", "10.88.0.7"),
        (f"db.default.svc.{Z}", "A", "10.88.0.9"),
    }
    assert records(ask(handler, "db-0.db.default.svc.cluster.local")) == {
        (f"db-0.db.default.svc.{Z}", "A", "10.88.0.7")
    }
    assert ask(handler, "10-88-0-8.db.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN  # not ready
    assert records(ask(handler, "_pg._tcp.db.default.svc.cluster.local", "SRV")) == {
        (f"_pg._tcp.db.default.svc.{Z}", "SRV", f"0 50 5432 db-0.db.default.svc.{Z}"),
        (f"_pg._tcp.db.default.svc.{Z}", "SRV", f"0 50 5432 10-88-0-9.db.default.svc.{Z}"),
    }
    assert records(ask(handler, "9.0.88.10.in-addr.arpa", "PTR")) == {
        ("9.0.88.10.in-addr.arpa.", "PTR", f"10-88-0-9.db.default.svc.{Z}")
    }
