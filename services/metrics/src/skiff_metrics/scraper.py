"""Scrapes every Node's kubelet (`/metrics/resource` at its InternalIP) once per resolution, concurrently.

A kubelet that does not answer within the timeout is skipped for this round (logged and counted), and
the others are not held up by it, as metrics-server does.

With TLS files the kubelet is read over HTTPS, its serving certificate checked against the cluster CA
(metrics-server's --kubelet-certificate-authority) and skiff-metrics' own client certificate presented:
the kubelet authorizes `get nodes/metrics` for it by SubjectAccessReview, which the default
`system:metrics-server` ClusterRole grants. Without TLS files, plain HTTP (a kubelet without them).
"""

from __future__ import annotations

import ssl
import time

import aiohttp
from prometheus_client import Counter, Histogram
from skiff.api.core.v1 import node_pb2
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability import get_logger

from skiff_metrics import exposition
from skiff_metrics.storage import Batch, Point

log = get_logger("skiff_metrics.scraper")
SCRAPES = Counter("metrics_server_kubelet_scrapes_total", "Kubelet scrapes by result", ["result"])
DURATION = Histogram("metrics_server_kubelet_request_duration_seconds", "Duration of one kubelet scrape")
FAMILIES = {
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "node_cpu_usage_seconds_total",
    "node_memory_working_set_bytes",
}


def node_address(node: node_pb2.Node) -> str | None:
    """InternalIP first, then any address, as metrics-server's default address preference does."""
    by_type = {a.type: a.address for a in node.status.addresses}
    for kind in ("InternalIP", "ExternalIP", "Hostname"):
        if by_type.get(kind):
            return by_type[kind]
    return None


def decode(text: str, fallback_at: float) -> Batch:
    batch = Batch()
    cpu: dict[tuple[str, str, str], tuple[float, float]] = {}
    memory: dict[tuple[str, str, str], int] = {}
    node_cpu = node_mem = None
    for s in exposition.parse(text, FAMILIES):
        at = s.timestamp_ms / 1000 if s.timestamp_ms else fallback_at
        if s.name == "node_cpu_usage_seconds_total":
            node_cpu = (s.value, at)
        elif s.name == "node_memory_working_set_bytes":
            node_mem = int(s.value)
        else:
            key = (s.labels.get("namespace", ""), s.labels.get("pod", ""), s.labels.get("container", ""))
            if s.name == "container_cpu_usage_seconds_total":
                cpu[key] = (s.value, at)
            else:
                memory[key] = int(s.value)
    if node_cpu is not None:
        batch.node = Point(node_cpu[0], node_mem or 0, node_cpu[1])
    for (ns, pod, container), (seconds, at) in cpu.items():
        if ns and pod and container:
            batch.containers.setdefault((ns, pod), {})[container] = Point(
                seconds, memory.get((ns, pod, container), 0), at
            )
    return batch


class Scraper:
    def __init__(self, kubelet_port: int, timeout: float, tls: TLSConfig | None = None) -> None:
        self.kubelet_port = kubelet_port
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.scheme = "https" if tls is not None else "http"
        self.ssl: ssl.SSLContext | bool = False
        if tls is not None:
            self.ssl = ssl.create_default_context(cafile=tls.ca_file)
            self.ssl.load_cert_chain(tls.cert_file, tls.key_file)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def scrape(self, node: node_pb2.Node) -> Batch | None:
        address = node_address(node)
        if address is None:
            SCRAPES.labels("no_address").inc()
            return None
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        host = f"[{address}]" if ":" in address else address
        url = f"{self.scheme}://{host}:{self.kubelet_port}/metrics/resource"
        started = time.perf_counter()
        try:
            async with self._session.get(url, ssl=self.ssl) as resp:
                resp.raise_for_status()
                text = await resp.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            SCRAPES.labels("error").inc()
            log.warning("scrape.failed", node=node.metadata.name, url=url, error=str(exc) or type(exc).__name__)
            return None
        finally:
            DURATION.observe(time.perf_counter() - started)
        SCRAPES.labels("success").inc()
        return decode(text, time.time())
