"""Prometheus metrics: the default registry plus one HTTP endpoint per process.

All Skiff metrics live in prometheus_client's default registry so any module can declare its own
counters at import time; the endpoint is started once per process. It serves `/metrics` and the
health endpoints (`/healthz`, `/livez`, `/readyz`, see `health`) on one port, as kube-scheduler and
kube-controller-manager do, and 404 for every other path. A port of 0 picks a free port (tests); the
bound port is returned.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from skiff_common.observability import health

M = TypeVar("M")

_lock = threading.Lock()
_servers: dict[str, int] = {}


def parse_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"metrics_address: expected host:port, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def start_metrics_server(address: str) -> int:
    """Serve /metrics on `address` ("127.0.0.1:9101"); idempotent per address; returns the bound port."""
    with _lock:
        if address in _servers:
            return _servers[address]
        host, port = parse_host_port(address)
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name=f"metrics-{address}", daemon=True).start()
        bound = int(server.server_port)
        _servers[address] = bound
        return bound


class _Handler(BaseHTTPRequestHandler):
    """GET /metrics (text or OpenMetrics by Accept, gzip when asked) and the health endpoints."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(REGISTRY)
            headers = {"Content-Type": content_type}
            if "gzip" in self.headers.get("Accept-Encoding", ""):
                body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
            self._send(200, body, headers)
            return
        answered = health.answer(url.path, parse_qs(url.query, keep_blank_values=True), health.checks)
        if answered is None:
            self._send(404, b"404 page not found\n", {"Content-Type": "text/plain; charset=utf-8"})
            return
        status, text = answered
        self._send(
            status, text.encode(), {"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}
        )

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


class LabelCache(Generic[M]):
    """Children of a labelled metric, cached by label values.

    `metric.labels(...)` validates, stringifies and joins the values and takes the metric's lock on every
    call; a hot path (a counter per RPC) looks the child up here instead. Only for label sets that are
    naturally bounded (methods x codes, verbs x resources): every distinct key stays cached."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric: Any = metric
        self._children: dict[tuple[str, ...], M] = {}

    def get(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child
