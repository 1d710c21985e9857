"""The DNS transports: an asyncio datagram endpoint (UDP) and a stream server (TCP) per listen address.

UDP answers in-zone queries inline in ``datagram_received``; forwarded queries become named tasks
(kept in a set so they are not garbage-collected and are cancelled on shutdown). TCP reads
length-prefixed messages (RFC 1035 4.2.2, several per connection, pipelined answers in order) and
closes idle connections after ``TCP_IDLE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
from typing import Any, cast

from skiff_common.observability import get_logger

from skiff_dns.handler import QueryHandler

log = get_logger(__name__)
TCP_IDLE_SECONDS = 10.0
IP_FREEBIND = getattr(socket, "IP_FREEBIND", 15)  # linux/in.h; not exported by every Python build


def _family(addr: Any) -> str:
    return "2" if isinstance(addr, tuple) and ":" in str(addr[0]) else "1"


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, handler: QueryHandler, tasks: set[asyncio.Task[None]]) -> None:
        self.handler = handler
        self.tasks = tasks
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        try:
            out = self.handler.handle(data, "udp", _family(addr))
        except Exception:
            log.exception("dns.udp_handler_failed")
            return
        if out is None:
            return
        if isinstance(out, bytes):
            assert self.transport is not None
            self.transport.sendto(out, addr)
            return
        task = asyncio.ensure_future(self._later(out, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _later(self, pending: Any, addr: Any) -> None:
        try:
            out = await pending
        except Exception:
            log.exception("dns.udp_forward_failed")
            return
        if out is not None and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(out, addr)


class DnsServer:
    """Serves one handler on several host:port addresses, UDP and TCP each."""

    def __init__(self, handler: QueryHandler, addresses: list[tuple[str, int]], *, freebind: bool = False) -> None:
        self.handler = handler
        self.addresses = addresses
        self.freebind = freebind
        self.bound: list[tuple[str, int]] = []
        self._udp: list[asyncio.DatagramTransport] = []
        self._tcp: list[asyncio.Server] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> list[tuple[str, int]]:
        """Bind every address (port 0: one free port shared by UDP and TCP); return what was bound."""
        loop = asyncio.get_running_loop()
        for host, port in self.addresses:
            tcp_sock = self._socket(host, port, socket.SOCK_STREAM)
            tcp = await asyncio.start_server(self._serve_tcp, sock=tcp_sock)
            bound_port = tcp_sock.getsockname()[1]
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self.handler, self._tasks), sock=self._socket(host, bound_port, socket.SOCK_DGRAM)
            )
            self._tcp.append(tcp)
            self._udp.append(udp)
            self.bound.append((host, bound_port))
            log.info("dns.listening", address=f"{host}:{bound_port}", proto="udp+tcp")
        return self.bound

    def _socket(self, host: str, port: int, kind: socket.SocketKind) -> socket.socket:
        """A bound socket; with ``freebind`` the address need not exist yet (IP_FREEBIND): the pod
        bridge's gateway address appears only when the first pod is networked, and packets to it are
        delivered to this socket from then on."""
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if self.freebind:
                sock.setsockopt(socket.SOL_IP, IP_FREEBIND, 1)
            sock.bind((host, port))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        return sock

    async def stop(self) -> None:
        for udp in self._udp:
            udp.close()
        for tcp in self._tcp:
            tcp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for tcp in self._tcp:
            await tcp.wait_closed()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        family = _family(writer.get_extra_info("peername"))
        try:
            while True:
                try:
                    size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), TCP_IDLE_SECONDS), "big")
                    wire = await asyncio.wait_for(reader.readexactly(size), TCP_IDLE_SECONDS)
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                out = self.handler.handle(wire, "tcp", family)
                if inspect.isawaitable(out):
                    out = await out
                if out is None:
                    continue
                writer.write(len(out).to_bytes(2, "big") + out)
                await writer.drain()
        except Exception:
            log.exception("dns.tcp_connection_failed")
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
