"""A trace crosses a gRPC hop: the client span and the server span share the trace id, the server span
is the client span's child, and the handler's log lines carry that trace id."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from .conftest import SERVICE, Echo, LogCapture


def by_kind(spans: InMemorySpanExporter, kind: SpanKind, name: str) -> list[trace.Span]:
    return [s for s in spans.get_finished_spans() if s.kind == kind and s.name == name]  # type: ignore[misc]


async def test_unary_trace_crosses_hop(echo: Echo, spans: InMemorySpanExporter, logs: LogCapture) -> None:
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("caller") as root:
        handler_trace_id = (await echo.unary(b"trace")).decode()
    trace_id = format(root.get_span_context().trace_id, "032x")
    assert handler_trace_id == trace_id

    (client,) = by_kind(spans, SpanKind.CLIENT, f"{SERVICE}/Unary")
    (server,) = by_kind(spans, SpanKind.SERVER, f"{SERVICE}/Unary")
    assert client.context.trace_id == server.context.trace_id == root.get_span_context().trace_id  # type: ignore[attr-defined]
    assert server.parent is not None and server.parent.span_id == client.context.span_id  # type: ignore[attr-defined]
    assert server.attributes is not None and server.attributes["rpc.grpc.status_code"] == 0  # type: ignore[attr-defined]

    handler_lines = [line for line in logs.lines() if line["event"] == "handling unary"]
    assert handler_lines and handler_lines[0]["trace_id"] == trace_id
    assert handler_lines[0]["span_id"] == format(server.context.span_id, "016x")  # type: ignore[attr-defined]
    access = [line for line in logs.lines() if line["event"] == "rpc finished"]
    assert access and access[0]["trace_id"] == trace_id


async def test_streaming_trace_crosses_hop(echo: Echo, spans: InMemorySpanExporter, logs: LogCapture) -> None:
    items = [item async for item in echo.stream(b"s")]
    (client,) = by_kind(spans, SpanKind.CLIENT, f"{SERVICE}/Stream")
    (server,) = by_kind(spans, SpanKind.SERVER, f"{SERVICE}/Stream")
    trace_id = format(client.context.trace_id, "032x")  # type: ignore[attr-defined]
    assert server.context.trace_id == client.context.trace_id  # type: ignore[attr-defined]
    # Every streamed item was produced inside the server span.
    assert all(item.decode().endswith(trace_id) for item in items)
    assert [line["trace_id"] for line in logs.lines() if line["event"] == "handling stream"] == [trace_id]


async def test_failed_rpc_marks_both_spans_as_errors(echo: Echo, spans: InMemorySpanExporter) -> None:
    try:
        await echo.unary(b"notfound")
    except Exception:
        pass
    (client,) = by_kind(spans, SpanKind.CLIENT, f"{SERVICE}/Unary")
    (server,) = by_kind(spans, SpanKind.SERVER, f"{SERVICE}/Unary")
    assert not client.status.is_ok and not server.status.is_ok  # type: ignore[attr-defined]
    assert server.attributes["rpc.grpc.status_code"] == 5  # type: ignore[attr-defined, index]
