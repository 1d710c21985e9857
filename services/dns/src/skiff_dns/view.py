"""The cluster as the DNS server sees it: Services and their endpoints, looked up by name or by IP.

Everything here reads informer stores (dict lookups by ``namespace/name`` and by IP index), never the
apiserver, so a query costs the same whatever the cluster's size.
"""

from __future__ import annotations

from collections.abc import Sequence

from skiff.api.core.v1 import service_pb2
from skiff_client.store import NAMESPACE_INDEX, Store

from skiff_dns.source import Address, EndpointGroup, EndpointSource

CLUSTER_IP_INDEX = "clusterIP"


def cluster_ips(svc: service_pb2.Service) -> list[str]:
    """The Service's virtual IPs; empty for headless ("None") and not yet allocated Services."""
    ips = list(svc.spec.cluster_ips) or ([svc.spec.cluster_ip] if svc.spec.cluster_ip else [])
    return [ip for ip in ips if ip and ip != "None"]


def is_headless(svc: service_pb2.Service) -> bool:
    return svc.spec.cluster_ip == "None"


def _cluster_ip_index(svc: service_pb2.Service) -> list[str]:
    return cluster_ips(svc) if svc.spec.type != "ExternalName" else []


class ClusterView:
    def __init__(self, services: Store[service_pb2.Service], endpoints: EndpointSource) -> None:
        self.services = services
        self.endpoints = endpoints
        services.add_indexer(CLUSTER_IP_INDEX, _cluster_ip_index)

    def service(self, namespace: str, name: str) -> service_pb2.Service | None:
        return self.services.get(f"{namespace}/{name}")

    def namespace_exists(self, namespace: str) -> bool:
        """A namespace is visible in DNS while it holds a Service (CoreDNS answers the same way)."""
        return bool(self.services.by_index(NAMESPACE_INDEX, namespace))

    def endpoint_groups(self, namespace: str, name: str) -> Sequence[EndpointGroup]:
        return self.endpoints.groups(namespace, name)

    def services_by_cluster_ip(self, ip: str) -> list[service_pb2.Service]:
        return self.services.by_index(CLUSTER_IP_INDEX, ip)

    def endpoints_by_ip(self, ip: str) -> Sequence[tuple[str, str, Address]]:
        """Endpoints with this IP, of headless Services only (a ClusterIP Service's endpoints are reached
        through its virtual IP, and their PTR belongs to the pod's own name)."""
        out = []
        for ns, name, addr in self.endpoints.by_ip(ip):
            svc = self.service(ns, name)
            if svc is not None and is_headless(svc):
                out.append((ns, name, addr))
        return out
