"""The streaming HTTP server behind CRI Exec/Attach/PortForward (containerd's CRI streaming server).

The RPCs park a validated request under a one-time token (``tokens.py``) and return
``http://<address>/{exec,attach,portforward}/<token>``; the client (the kubelet's proxy, or any
WebSocket client) then upgrades that URL, with GET or POST as the kubelet allows. Only WebSocket
framing is served (``channels.py``); SPDY is not, and says so with a 400.

The server listens from the first streaming request on, not from start-up: a runtime that is never
asked to stream opens no port, and tests that do not stream leave nothing listening. The default
address is ``127.0.0.1:0`` (a free port on loopback: the kubelet proxies from the same node). URLs
name the bound address; a wildcard bind is advertised as 127.0.0.1. aiohttp itself is imported then too:
importing it (its client, SSL contexts, websocket tables) was a quarter of the runtime's start-up CPU.

``stop()`` ends every live session (an exec's command is killed with its helper), forgets unused
tokens and closes the port; a later request starts it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skiff_common.errors import BadRequest
from skiff_common.observability import get_logger

from skiff_runtime.streaming import channels as ch
from skiff_runtime.streaming.attach import AttachTarget, serve_attach
from skiff_runtime.streaming.exec import ExecTarget, helper_request, serve_exec
from skiff_runtime.streaming.portforward import PortForwardTarget, parse_ports, serve_port_forward
from skiff_runtime.streaming.tokens import DEFAULT_TTL, TokenCache

if TYPE_CHECKING:  # aiohttp is imported when the server first starts (see above): not at runtime start-up
    from aiohttp import web

log = get_logger(__name__)
DEFAULT_ADDRESS = "127.0.0.1:0"
Target = ExecTarget | AttachTarget | PortForwardTarget


def parse_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise BadRequest(f"streaming address: Invalid value {address!r}: expected HOST:PORT (port 0: any)")
    return host, int(port)


class StreamingServer:
    def __init__(
        self,
        *,
        oci_state_root: Path,
        is_running: Callable[[str], Awaitable[bool]],
        address: str = DEFAULT_ADDRESS,
        token_ttl: float = DEFAULT_TTL,
    ) -> None:
        self.host, self.configured_port = parse_address(address)
        self.port = self.configured_port
        self.oci_state_root = oci_state_root
        self.is_running = is_running
        self.tokens: TokenCache[Target] = TokenCache(token_ttl)
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()
        self._sessions: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # advertised only
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    async def start(self) -> None:
        async with self._lock:
            if self._runner is not None:
                return
            from aiohttp import web

            app = web.Application()
            for kind, handler in (
                ("exec", self._exec),
                ("attach", self._attach),
                ("portforward", self._port_forward),
            ):
                app.router.add_route("GET", f"/{kind}/{{token}}", handler)
                app.router.add_route("POST", f"/{kind}/{{token}}", handler)
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            self.port = sock.getsockname()[1]
            self._runner = runner
            log.info("streaming server listening", url=self.base_url)

    async def stop(self) -> None:
        async with self._lock:
            for task in list(self._sessions):
                task.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
            # URLs handed out so far named this port: they die with it, and a restart binds afresh
            self.tokens = TokenCache(self.tokens.ttl, self.tokens.max_in_flight, self.tokens.clock)
            self.port = self.configured_port

    async def url_for(self, target: Target) -> str:
        await self.start()
        kind = {ExecTarget: "exec", AttachTarget: "attach", PortForwardTarget: "portforward"}[type(target)]
        return f"{self.base_url}/{kind}/{self.tokens.insert(target)}"

    # -- handlers ---------------------------------------------------------------------------------

    def _take(self, request: web.Request, kind: type[Target]) -> Any:
        """The target parked under the URL's token (taking it), or the HTTP error to answer with."""
        from aiohttp import web  # already loaded: handlers run only once start() has imported it

        target = self.tokens.take(request.match_info["token"])
        if target is None:
            return web.Response(status=404, text="unknown, used or expired streaming token\n")
        if not isinstance(target, kind):
            return web.Response(status=400, text=f"this token is not for {request.path.split('/')[1]}\n")
        return target

    async def _session(
        self,
        request: web.Request,
        offered: tuple[ch.Protocol, ...],
        serve: Callable[[ch.ChannelSocket], Awaitable[None]],
    ) -> web.StreamResponse:
        from aiohttp import web  # already loaded: handlers run only once start() has imported it

        sock = await ch.ChannelSocket.accept(request, offered)
        if isinstance(sock, web.Response):
            return sock
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await serve(sock)
        except Exception as err:  # a broken session must not take the server down; tell the client
            log.exception("streaming session failed", path=request.path)
            with contextlib.suppress(Exception):
                await sock.send_status(ch.internal_error(str(err)))
        finally:
            self._sessions.discard(task)
            with contextlib.suppress(Exception):
                await sock.close()
        return sock.ws

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web  # already loaded: handlers run only once start() has imported it

        target = self._take(request, ExecTarget)
        if isinstance(target, web.Response):
            return target

        async def serve(sock: ch.ChannelSocket) -> None:
            # the kubelet's "connection established" signal: an empty frame on the lowest writable channel
            await sock.send(ch.STDOUT if target.stdout else ch.STDERR if target.stderr else ch.ERROR, b"")
            try:
                req = await asyncio.to_thread(helper_request, self.oci_state_root, target)
            except (OSError, ValueError) as err:
                await sock.send_status(ch.internal_error(str(err)))
                return
            await serve_exec(sock, target, req)

        return await self._session(request, ch.REMOTECOMMAND, serve)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web  # already loaded: handlers run only once start() has imported it

        target = self._take(request, AttachTarget)
        if isinstance(target, web.Response):
            return target

        async def serve(sock: ch.ChannelSocket) -> None:
            await sock.send(ch.STDOUT if target.stdout else ch.STDERR, b"")
            await serve_attach(sock, target, lambda: self.is_running(target.container_id))

        return await self._session(request, ch.REMOTECOMMAND, serve)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web  # already loaded: handlers run only once start() has imported it

        target = self._take(request, PortForwardTarget)
        if isinstance(target, web.Response):
            return target
        try:  # the CRI request's ports win; a client may name them on the URL instead (as the kubelet allows)
            ports = target.ports or parse_ports(request.query.getall("port", []))
        except ValueError as err:
            return web.Response(status=400, text=f"{err}\n")
        if not ports:
            return web.Response(status=400, text='query parameter "port" is required\n')
        return await self._session(request, ch.PORTFORWARD, lambda sock: serve_port_forward(sock, target, ports))
