"""Tracing layer: a SERVER span per RPC that continues the caller's trace.

The parent context comes from the W3C `traceparent`/`tracestate` request metadata via the globally
configured propagator (set by OpenTelemetry, W3C trace-context + baggage by default). We wrote this
instead of using opentelemetry-instrumentation-grpc's aio server interceptor so that the span stays the
*current* span for the whole handler -- including every item of a server-streaming response -- which is
what puts trace_id/span_id into the handler's log lines, and so that the status code is read from the
same place as the metrics and access-log layers.

Cost (this runs on every request): the tracer is cached per TracerProvider -- `trace.get_tracer` builds
a new Tracer (and an InstrumentationScope) on every call, which was the single largest item of this
layer -- and is looked up again only when a different provider has been installed, so a provider set
after import is still honoured. The span is made current with `context.attach`/`detach` directly
rather than `start_as_current_span`, which stacks two generator-based context managers per call.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from skiff_common.grpcutil._wrapping import MethodInfo
from skiff_common.observability.tracing import CachedTracer

_tracer = CachedTracer("skiff_common.grpcutil")


def _carrier(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class ServerSpan:
    """Start: a SERVER span, made current; `finish` records the status and ends it (exactly once)."""

    __slots__ = ("_token", "span")

    def __init__(self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        parent = propagate.extract(_carrier(context))
        self.span: Span = _tracer.get().start_span(
            info.span_name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes=info.span_attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        self._token: Any = otel_context.attach(trace.set_span_in_context(self.span, parent))

    def finish(self, code: grpc.StatusCode) -> None:
        span = self.span
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, code.name))
        span.end()
        otel_context.detach(self._token)


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside a span (handy for error pages and tests)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
