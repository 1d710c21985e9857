"""Assembly of skiff-metrics: Node and Pod informers, the scrape loop, the Storage, the HTTPS server.

every --metric-resolution: for each Node (informer) ─ GET https://<InternalIP>:<kubelet-port>/metrics/resource
                                                   │  (client certificate: nodes/metrics by the kubelet's SAR)
                                                   └─> Storage.store(node, batch) (two points kept)
GET /apis/metrics.k8s.io/v1beta1/... (from the apiserver's aggregator) ─> MetricsApi ─> Storage + caches
GET /apis/custom.metrics.k8s.io/..., /apis/external.metrics.k8s.io/... ─> custom.py, external.py ─> Prometheus
    (with --prometheus-url and --custom-metrics-rules; the rule file format is in rules.py)
"""

from __future__ import annotations

import asyncio
import ssl

from aiohttp import web
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import ApiClient, InformerFactory
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability import get_logger
from skiff_common.observability.metrics import parse_host_port

from skiff_metrics.api import MetricsApi
from skiff_metrics.config import MetricsConfig
from skiff_metrics.custom import CustomMetricsApi
from skiff_metrics.external import ExternalMetricsApi
from skiff_metrics.prometheus import Prometheus
from skiff_metrics.rules import load_rules
from skiff_metrics.scraper import Scraper
from skiff_metrics.storage import Storage

log = get_logger("skiff_metrics")


def server_ssl(tls: TLSConfig) -> ssl.SSLContext:
    """Serve with our certificate; accept only clients holding one from the cluster CA (the apiserver)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls.ca_file)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class MetricsServer:
    def __init__(self, api: ApiClient, cfg: MetricsConfig) -> None:
        self.api = api
        self.cfg = cfg
        self.factory = InformerFactory(api)
        self.nodes = self.factory.informer(node_pb2.Node)
        self.pods = self.factory.informer(pod_pb2.Pod)
        self.storage = Storage()
        self.scraper = Scraper(cfg.kubelet_port, cfg.scrape_timeout_s, cfg.tls())
        self.http = MetricsApi(self.storage, self.nodes, self.pods)
        self.prometheus: Prometheus | None = None
        if cfg.prometheus_url and cfg.custom_metrics_rules:  # custom and external metrics from Prometheus
            rules = load_rules(cfg.custom_metrics_rules)
            self.prometheus = Prometheus(cfg.prometheus_url)
            CustomMetricsApi(rules.custom, self.prometheus, self.pods).install(self.http.app)
            ExternalMetricsApi(rules.external, self.prometheus).install(self.http.app)
        self._runner: web.AppRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.rounds = 0

    async def start(self) -> int:
        self.factory.start()
        self._runner = web.AppRunner(self.http.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        host, port = parse_host_port(self.cfg.listen)
        tls = self.cfg.serving_tls()
        site = web.TCPSite(self._runner, host, port, ssl_context=server_ssl(tls) if tls else None)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        self._task = asyncio.create_task(self._loop(), name="scrape-loop")
        log.info("metrics.started", port=self.port, resolution=self.cfg.resolution_s)
        return self.port

    async def scrape_once(self) -> None:
        nodes = self.nodes.store.list()
        batches = await asyncio.gather(*(self.scraper.scrape(n) for n in nodes))
        for node, batch in zip(nodes, batches, strict=True):
            if batch is not None:
                self.storage.store(node.metadata.name, batch)
        self.storage.forget_except({n.metadata.name for n in nodes})
        self.rounds += 1

    async def _loop(self) -> None:
        await self.factory.wait_synced()
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await self.scrape_once()
            except Exception as exc:  # one bad round must not end scraping
                log.exception("scrape.round_failed", error=str(exc))
            await asyncio.sleep(max(self.cfg.resolution_s - (loop.time() - started), 0.0))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.scraper.close()
        if self.prometheus is not None:
            await self.prometheus.close()
        await self.factory.stop()
