"""tcpSocket and httpGet probes against real listeners on 127.0.0.1 (exec probes: see test_e2e)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from skiff.api.core.v1 import container_pb2
from skiff_kubelet.probes import run_probe


@pytest.fixture
async def http_server() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readline()
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        status = b"200 OK" if b" /healthz " in request else b"503 Service Unavailable"
        writer.write(b"HTTP/1.0 " + status + b"\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


def container(port: int) -> container_pb2.Container:
    c = container_pb2.Container(name="c")
    c.ports.add(name="http", container_port=port)
    return c


@pytest.mark.parametrize(
    ("path", "named", "ok"), [("/healthz", False, True), ("/other", False, False), ("/healthz", True, True)]
)
async def test_http_probe(http_server: int, path: str, named: bool, ok: bool) -> None:
    probe = container_pb2.Probe(timeout_seconds=2)
    probe.http_get.path = path
    if named:
        probe.http_get.port.str_val = "http"
    else:
        probe.http_get.port.int_val = http_server
    assert await run_probe(None, probe, container(http_server), "cid", "127.0.0.1") is ok  # type: ignore[arg-type]


async def test_tcp_probe_open_and_closed_port(http_server: int) -> None:
    probe = container_pb2.Probe(timeout_seconds=2)
    probe.tcp_socket.port.int_val = http_server
    assert await run_probe(None, probe, container(http_server), "cid", "127.0.0.1")  # type: ignore[arg-type]
    import socket

    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    probe.tcp_socket.port.int_val = closed
    assert not await run_probe(None, probe, container(http_server), "cid", "127.0.0.1")  # type: ignore[arg-type]


async def test_unknown_named_port_fails_the_probe() -> None:
    probe = container_pb2.Probe()
    probe.tcp_socket.port.str_val = "nope"
    assert not await run_probe(None, probe, container(1), "cid", "127.0.0.1")  # type: ignore[arg-type]
