"""The kubelet's HTTP endpoint: `/metrics`, `/metrics/resource`, `/metrics/cadvisor`, `/stats/summary`, and
`/healthz`, `/livez`, `/readyz` with the process's named checks (skiff_common.observability.health).

The real kubelet serves these beside its API on one port; Skiff's kubelet API is gRPC (`--listen`), so
they share the kubelet's metrics port (`--metrics-address`) instead, in the kubelet's own event loop (the
snapshot lives there). Plain HTTP on the address given, like the kubelet's former read-only port: the
numbers are the node's usage, not secrets, and `skiff up` binds it to 127.0.0.1.
"""

from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from skiff_common.observability import get_logger, health
from skiff_common.observability.metrics import parse_host_port

from skiff_kubelet.stats import resource_metrics
from skiff_kubelet.stats.collector import StatsProvider
from skiff_kubelet.stats.summary import summary

log = get_logger("skiff_kubelet.stats")
_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class StatsServer:
    def __init__(self, provider: StatsProvider) -> None:
        self.provider = provider
        self.app = web.Application()
        add = self.app.router.add_get
        add("/metrics", self._metrics)
        add("/metrics/resource", self._resource)
        add("/metrics/cadvisor", self._cadvisor)
        add("/stats/summary", self._summary)
        for endpoint in health.ENDPOINTS:
            add(f"/{endpoint}", self._health)
            add(f"/{endpoint}/{{check}}", self._health)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, address: str) -> int:
        host, port = parse_host_port(address)
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("stats_server.started", port=self.port)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _resource(self, request: web.Request) -> web.Response:
        snap = await self.provider.get()
        return web.Response(text=resource_metrics.resource(snap), headers={"Content-Type": _TEXT})

    async def _cadvisor(self, request: web.Request) -> web.Response:
        snap = await self.provider.get()
        return web.Response(text=resource_metrics.cadvisor(snap), headers={"Content-Type": _TEXT})

    async def _summary(self, request: web.Request) -> web.Response:
        body = summary(await self.provider.get())
        if request.query.get("only_cpu_and_memory") == "true":
            body = _cpu_and_memory(body)
        return web.json_response(body, dumps=json.dumps)

    async def _health(self, request: web.Request) -> web.Response:
        query = {k: request.query.getall(k) for k in request.query}
        answered = health.answer(request.path, query, health.checks)
        if answered is None:
            raise web.HTTPNotFound()
        status, text = answered
        return web.Response(text=text, status=status)


def _cpu_and_memory(body: dict) -> dict:  # type: ignore[type-arg]
    """`?only_cpu_and_memory=true`, as the kubelet answers it to metrics-server."""
    keep = {"nodeName", "startTime", "cpu", "memory", "podRef", "name", "containers"}

    def trim(d: dict) -> dict:  # type: ignore[type-arg]
        return {k: ([trim(x) for x in v] if k == "containers" else v) for k, v in d.items() if k in keep}

    return {"node": trim(body["node"]), "pods": [trim(p) for p in body["pods"]]}
