"""Shared fixtures: an in-memory span exporter on the process-wide TracerProvider, and a tiny echo
service built from generic handlers (raw bytes, no generated code) served by `create_server`."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from skiff_common.errors import FieldError, Invalid, NotFound
from skiff_common.grpcutil import add_listen, create_channel, create_server, current_trace_id
from skiff_common.observability import get_logger, setup_logging, setup_tracing

_exporter = InMemorySpanExporter()
setup_tracing("skiff-common-tests").add_span_processor(SimpleSpanProcessor(_exporter))

SERVICE = "skiff.test.v1.Echo"
log = get_logger("skiff.test.echo")


async def unary(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
    log.info("handling unary", request=request.decode())
    if request == b"notfound":
        raise NotFound('pods "web" not found')
    if request == b"invalid":
        raise Invalid('Pod "web" is invalid', [FieldError("spec.containers[0].image", "Required value")])
    if request == b"boom":
        raise RuntimeError("/etc/secret-path leaked")
    if request == b"abort":
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "nope")
    if request == b"trace":
        return (current_trace_id() or "").encode()
    return request


async def stream(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    log.info("handling stream", request=request.decode())
    for i in range(3):
        if request == b"boom" and i == 1:
            raise RuntimeError("exploded mid-stream")
        if request == b"notfound" and i == 1:
            raise NotFound("gone")
        yield f"{request.decode()}-{i}-{current_trace_id()}".encode()


async def watch(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
    """Like a real watch: one event, then wait until the client goes away."""
    yield b"ADDED"
    await asyncio.Event().wait()


async def stream_write(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    for i in range(2):
        await context.write(f"w{i}".encode())
    if request == b"notfound":
        raise NotFound("gone after writes")


def echo_handler() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
            "StreamWrite": grpc.unary_stream_rpc_method_handler(stream_write),
            "Watch": grpc.unary_stream_rpc_method_handler(watch),
        },
    )


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    _exporter.clear()
    yield _exporter
    _exporter.clear()


class LogCapture:
    def __init__(self) -> None:
        self.stream = io.StringIO()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line.strip()]


@pytest.fixture
def logs() -> LogCapture:
    capture = LogCapture()
    setup_logging("skiff-test", "debug", stream=capture.stream)
    return capture


class Echo:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.unary = channel.unary_unary(f"/{SERVICE}/Unary")
        self.stream = channel.unary_stream(f"/{SERVICE}/Stream")
        self.stream_write = channel.unary_stream(f"/{SERVICE}/StreamWrite")
        self.watch = channel.unary_stream(f"/{SERVICE}/Watch")


@pytest.fixture
async def echo(logs: LogCapture) -> AsyncIterator[Echo]:
    server = create_server("echo-test")
    server.add_generic_rpc_handlers((echo_handler(),))
    port = add_listen(server, "127.0.0.1:0", None)
    await server.start()
    channel = create_channel(f"127.0.0.1:{port}")
    try:
        yield Echo(channel)
    finally:
        await channel.close()
        await server.stop(None)


async def server_settled(check: Callable[[], bool]) -> None:
    """Wait (bounded) for the server's bookkeeping: an aborted or cancelled call's status reaches the
    client before the server has finished recording it. The caller asserts afterwards."""
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
