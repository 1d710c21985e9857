"""The server stack's cheap paths: access-log levels, per-method handler caching, option overrides,
the cached metric children and id-only spans. Behaviour, not speed: tests never assert timings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import REGISTRY, Counter
from skiff_common.grpcutil import add_listen, create_channel, create_server
from skiff_common.grpcutil.server_observe import ObservabilityInterceptor
from skiff_common.observability import setup_logging
from skiff_common.observability.metrics import LabelCache
from skiff_common.observability.tracing import CachedTracer, IdOnlyTracer, tracer_for

from .conftest import SERVICE, Echo, LogCapture, echo_handler, server_settled


def access_lines(logs: LogCapture, method: str = "Unary") -> list[dict[str, Any]]:
    return [line for line in logs.lines() if line["event"] == "rpc finished" and line["grpc_method"] == method]


async def test_successful_unary_is_access_logged_at_debug(echo: Echo, logs: LogCapture) -> None:
    assert await echo.unary(b"x") == b"x"
    (line,) = access_lines(logs)
    assert (line["level"], line["grpc_code"]) == ("debug", "OK")
    assert line["trace_id"] and line["peer"]


async def test_at_info_only_failures_and_streams_are_logged(echo: Echo) -> None:
    capture = LogCapture()
    setup_logging("skiff-test", "info", stream=capture.stream)
    await echo.unary(b"x")
    with pytest.raises(grpc.aio.AioRpcError):
        await echo.unary(b"notfound")
    _ = [item async for item in echo.stream(b"s")]
    await server_settled(lambda: bool(access_lines(capture)))
    assert [line["grpc_code"] for line in access_lines(capture)] == ["NOT_FOUND"]
    (stream_line,) = access_lines(capture, "Stream")
    assert (stream_line["level"], stream_line["grpc_code"]) == ("info", "OK")


async def test_server_fault_is_a_warning(echo: Echo, logs: LogCapture) -> None:
    with pytest.raises(grpc.aio.AioRpcError):
        await echo.unary(b"boom")
    await server_settled(lambda: bool(access_lines(logs)))
    (line,) = access_lines(logs)
    assert (line["level"], line["grpc_code"]) == ("warning", "INTERNAL")


@pytest.fixture
async def slow_echo() -> AsyncIterator[Echo]:
    """A server that treats every call as slow (threshold 0 s): successful calls log at INFO."""
    server = create_server("echo-slow-test", slow_rpc_seconds=0.0)
    server.add_generic_rpc_handlers((echo_handler(),))
    port = add_listen(server, "127.0.0.1:0", None)
    await server.start()
    channel = create_channel(f"127.0.0.1:{port}")
    try:
        yield Echo(channel)
    finally:
        await channel.close()
        await server.stop(None)


async def test_slow_successful_unary_is_logged_at_info(slow_echo: Echo) -> None:
    capture = LogCapture()
    setup_logging("skiff-test", "info", stream=capture.stream)
    await slow_echo.unary(b"x")
    (line,) = access_lines(capture)
    assert (line["level"], line["grpc_code"]) == ("info", "OK")


class _Details:
    def __init__(self, method: str) -> None:
        self.method = method
        self.invocation_metadata = ()


async def test_handlers_are_wrapped_once_per_method() -> None:
    interceptor = ObservabilityInterceptor()
    unary = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)
    other = grpc.unary_unary_rpc_method_handler(lambda req, ctx: req)

    async def same(_: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return unary

    async def different(_: Any) -> grpc.RpcMethodHandler[Any, Any]:
        return other

    first = await interceptor.intercept_service(same, _Details(f"/{SERVICE}/Unary"))  # type: ignore[arg-type]
    second = await interceptor.intercept_service(same, _Details(f"/{SERVICE}/Unary"))  # type: ignore[arg-type]
    third = await interceptor.intercept_service(different, _Details(f"/{SERVICE}/Unary"))  # type: ignore[arg-type]
    assert first is second
    assert first is not unary and third is not first
    assert first is not None and first.unary_unary is not unary.unary_unary


async def test_options_override_the_defaults() -> None:
    """so_reuseport is off by default (a taken port fails loudly); an override turns it on."""
    taken = create_server("reuse-a", options=[("grpc.so_reuseport", 1)])
    port = add_listen(taken, "127.0.0.1:0", None)
    shared = create_server("reuse-b", options=[("grpc.so_reuseport", 1)])
    loud = create_server("reuse-c")
    try:
        assert add_listen(shared, f"127.0.0.1:{port}", None) == port
        with pytest.raises(OSError, match="cannot listen"):
            add_listen(loud, f"127.0.0.1:{port}", None)
    finally:
        for s in (taken, shared, loud):
            await s.stop(None)


def test_label_cache_returns_one_child_per_label_set() -> None:
    counter = Counter("skiff_test_fastpath_total", "test counter", ["a", "b"], registry=None)
    cache: LabelCache[Counter] = LabelCache(counter)
    assert cache.get("x", "y") is cache.get("x", "y")
    cache.get("x", "y").inc()
    cache.get("x", "z").inc(2)
    assert counter.labels("x", "y")._value.get() == 1
    assert counter.labels("x", "z")._value.get() == 2
    assert REGISTRY.get_sample_value("skiff_test_fastpath_total", {"a": "x", "b": "y"}) is None  # unregistered


def test_spans_carry_ids_but_record_nothing_until_a_processor_exists() -> None:
    provider = TracerProvider()
    tracer = tracer_for(provider, "skiff.test")
    assert isinstance(tracer, IdOnlyTracer)
    with tracer.start_as_current_span("parent") as parent:
        child = tracer.start_span("child")
    assert parent.get_span_context().is_valid and not parent.is_recording()
    assert child.get_span_context().trace_id == parent.get_span_context().trace_id
    assert child.get_span_context().span_id != parent.get_span_context().span_id
    assert child.get_span_context().trace_flags.sampled  # downstream services still record the trace

    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    recording = tracer_for(provider, "skiff.test")
    assert not isinstance(recording, IdOnlyTracer)
    recording.start_span("kept").end()
    assert [s.name for s in exporter.get_finished_spans()] == ["kept"]


def test_cached_tracer_follows_the_global_provider() -> None:
    # The session provider (conftest) has a processor: spans are recorded, and the tracer is reused.
    cached = CachedTracer("skiff.test.cached")
    first = cached.get()
    assert first is cached.get()
    assert not isinstance(first, IdOnlyTracer)
    span = first.start_span("x")
    assert span.is_recording()
    span.end()
