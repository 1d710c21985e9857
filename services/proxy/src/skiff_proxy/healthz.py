"""The proxy's /healthz and /livez: kube-proxy's JSON body, 200 while the rules are fresh, else 503.

Served by the standard library's threaded HTTP server on its own daemon thread rather than aiohttp:
importing aiohttp (its client, parsers and attrs) cost the proxy ~0.2 CPU-s at every start, a fifth of
its start-up, for two GET routes. The handler only reads two floats the syncer writes, so no lock is
needed across the thread boundary.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class HealthzServer:
    """Answers GET /healthz and /livez from `synced_at()` and `healthy(now)`; 404 for other paths."""

    def __init__(self, address: str, synced_at: Callable[[], float | None], healthy: Callable[[float], bool]):
        host, _, port = address.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] not in ("/healthz", "/livez"):
                    self._send(404, b"404: Not Found", "text/plain; charset=utf-8")
                    return
                status, body = outer.answer()
                self._send(status, body.encode(), "application/json")

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._synced_at = synced_at
        self._healthy = healthy
        self._server = (_Server6 if ":" in host else _Server)((host, int(port)), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"healthz-{address}", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def answer(self) -> tuple[int, str]:
        now = time.time()
        body = {"lastUpdated": self._synced_at(), "currentTime": now, "nodeEligible": True}
        return (200 if self._healthy(now) else 503), json.dumps(body)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
