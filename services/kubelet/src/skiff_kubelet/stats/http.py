"""The kubelet's HTTP endpoint: `/metrics`, `/metrics/resource`, `/metrics/cadvisor`, `/stats/summary`, and
`/healthz`, `/livez`, `/readyz` with the process's named checks (skiff_common.observability.health).

The real kubelet serves these beside its API on one HTTPS port (10250); Skiff's kubelet API is gRPC
(`--listen`), so they share the kubelet's metrics port (`--metrics-address`) instead, in the kubelet's own
event loop (the snapshot lives there). With the kubelet's serving certificate (`skiff up`, compose) the
port speaks HTTPS and every request but the health endpoints is authenticated and authorized as the
kubelet's own server does it (stats/auth.py: client certificate or TokenReview'd bearer token, then
`nodes/metrics` / `nodes/stats` by SubjectAccessReview). Without TLS files (the bare binary, some unit
tests) it is plain HTTP, like the kubelet's former read-only port.
"""

from __future__ import annotations

import json

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability import get_logger, health
from skiff_common.observability.metrics import parse_host_port

from skiff_kubelet.stats import resource_metrics
from skiff_kubelet.stats.auth import StatsAuth, serving_context
from skiff_kubelet.stats.collector import StatsProvider
from skiff_kubelet.stats.summary import summary

log = get_logger("skiff_kubelet.stats")
_TEXT = "text/plain; version=0.0.4; charset=utf-8"


class StatsServer:
    """The stats port; with `health_only`, the kubelet's plain-HTTP healthz port (`--healthz-address`, the
    kubelet's --healthz-bind-address:--healthz-port, 10248), for probes that hold no identity."""

    def __init__(
        self,
        provider: StatsProvider | None,
        tls: TLSConfig | None = None,
        auth: StatsAuth | None = None,
        *,
        health_only: bool = False,
    ) -> None:
        if tls is not None and auth is None:
            raise ValueError("--metrics-address: an HTTPS stats port needs its authenticator and authorizer")
        self.provider, self.tls = provider, tls
        self.app = web.Application(middlewares=[auth.middleware] if auth is not None and tls is not None else [])
        add = self.app.router.add_get
        if not health_only:
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
        context = serving_context(self.tls) if self.tls is not None else None
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        log.info("stats_server.started", port=self.port, tls=context is not None)
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _resource(self, request: web.Request) -> web.Response:
        assert self.provider is not None
        snap = await self.provider.get()
        return web.Response(text=resource_metrics.resource(snap), headers={"Content-Type": _TEXT})

    async def _cadvisor(self, request: web.Request) -> web.Response:
        assert self.provider is not None
        snap = await self.provider.get()
        return web.Response(text=resource_metrics.cadvisor(snap), headers={"Content-Type": _TEXT})

    async def _summary(self, request: web.Request) -> web.Response:
        assert self.provider is not None
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
