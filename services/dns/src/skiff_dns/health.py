"""/healthz (the process serves) and /readyz (the caches have synced: answers are complete), as
CoreDNS's ``health`` and ``ready`` plugins. A minimal HTTP/1.0 responder on asyncio: two fixed paths do
not warrant a web framework."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from skiff_common.observability.metrics import parse_host_port


class HealthServer:
    def __init__(self, address: str, ready: Callable[[], bool]) -> None:
        self.host, self.port = parse_host_port(address)
        self.ready = ready
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5)
            parts = request.decode("latin-1").split()
            path = parts[1].split("?", 1)[0] if len(parts) >= 2 else ""
            if path == "/healthz":
                status, body = "200 OK", "ok"
            elif path == "/readyz":
                status, body = ("200 OK", "ok") if self.ready() else ("503 Service Unavailable", "caches not synced")
            else:
                status, body = "404 Not Found", "not found"
            writer.write(
                f"HTTP/1.0 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode()
            )
            await writer.drain()
        except (TimeoutError, ConnectionError, UnicodeDecodeError):
            pass
        finally:
            writer.close()
