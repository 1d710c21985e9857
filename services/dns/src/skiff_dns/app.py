"""Assembly: one informer factory (Services, and Endpoints or EndpointSlices), the cluster view, the
resolver, the forwarder, the UDP/TCP server and the health endpoint.

The server listens at once but answers in-zone names with SERVFAIL until both caches have synced: an
empty cache would otherwise answer NXDOMAIN for names that exist, and resolvers cache negative answers.
SERVFAIL is not cached that way, and clients retry. /readyz turns 200 at the same moment.
"""

from __future__ import annotations

from skiff.api.core.v1 import service_pb2
from skiff_client import ApiClient, InformerFactory
from skiff_common.observability.metrics import parse_host_port

from skiff_dns.answer import Resolver
from skiff_dns.config import DnsConfig
from skiff_dns.forward import Forwarder, read_nameservers
from skiff_dns.handler import QueryHandler
from skiff_dns.health import HealthServer
from skiff_dns.server import DnsServer
from skiff_dns.source import SOURCES, source_message
from skiff_dns.view import ClusterView


class DnsApp:
    def __init__(self, api: ApiClient, cfg: DnsConfig, source: str = "endpoints") -> None:
        """`source`: "endpoints" or "endpointslices" (``source.detect_source`` asks the apiserver)."""
        self.api = api
        self.cfg = cfg
        self.source = source
        message = source_message(source)
        if message is None:
            raise ValueError(f"endpoint_source: this build does not know the {source!r} resource")
        self.factory = InformerFactory(api)
        services = self.factory.informer(service_pb2.Service)
        endpoints = self.factory.informer(message)
        self._informers = (services, endpoints)
        view = ClusterView(services.store, SOURCES[source](endpoints.store))
        self.resolver = Resolver(view, cfg.cluster_domain, cfg.ttl, cfg.pods)
        addresses = [parse_host_port(a) for a in cfg.listen]
        self.forwarder = Forwarder(
            read_nameservers(cfg.upstream_resolv_conf), port=cfg.upstream_port, exclude=set(addresses)
        )
        host, port = addresses[0]
        self.handler = QueryHandler(
            self.resolver, self.forwarder, f"dns://{host}:{port}", ready=self.synced, cache_entries=cfg.cache_entries
        )
        for informer in self._informers:  # any change empties the response cache (cache.py)
            informer.add_handler(
                self.handler.cache.invalidate, self.handler.cache.invalidate, self.handler.cache.invalidate
            )
        self.server = DnsServer(self.handler, addresses, freebind=cfg.freebind)
        self.health = HealthServer(cfg.health_address, self.synced) if cfg.health_address else None

    def synced(self) -> bool:
        return all(inf.has_synced() for inf in self._informers)

    async def start(self) -> list[tuple[str, int]]:
        """Start the informers and bind the listeners; returns the bound DNS addresses."""
        self.factory.start()
        bound = await self.server.start()
        if self.health is not None:
            await self.health.start()
        return bound

    async def wait_synced(self) -> None:
        await self.factory.wait_synced()

    async def stop(self) -> None:
        await self.server.stop()
        if self.health is not None:
            await self.health.stop()
        await self.factory.stop()
