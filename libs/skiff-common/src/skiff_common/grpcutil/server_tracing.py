"""Tracing layer: a SERVER span per RPC that continues the caller's trace.

The parent context comes from the W3C `traceparent`/`tracestate` request metadata via the globally
configured propagator (set by OpenTelemetry, W3C trace-context + baggage by default). We wrote this
instead of using opentelemetry-instrumentation-grpc's aio server interceptor so that the span stays the
*current* span for the whole handler -- including every item of a server-streaming response -- which is
what puts trace_id/span_id into the handler's log lines, and so that the status code is read from the
same place as the metrics and access-log layers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from skiff_common.grpcutil._wrapping import HandlerInterceptor, MethodInfo, outcome_code
from skiff_common.observability.tracing import get_tracer

_tracer_name = "skiff_common.grpcutil"


def _carrier(context: grpc.aio.ServicerContext[Any, Any]) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class TracingInterceptor(HandlerInterceptor):
    @asynccontextmanager
    async def around(
        self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        parent = propagate.extract(_carrier(context))
        # The tracer is looked up per call so a provider installed after import is honoured.
        tracer = get_tracer(_tracer_name)
        with tracer.start_as_current_span(
            info.span_name,
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"rpc.system": "grpc", "rpc.service": info.service, "rpc.method": info.method},
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            exc: BaseException | None = None
            try:
                yield
            except BaseException as e:
                exc = e
                raise
            finally:
                code = outcome_code(exc, context)
                span.set_attribute("rpc.grpc.status_code", code.value[0])
                if code is not grpc.StatusCode.OK:
                    span.set_status(Status(StatusCode.ERROR, code.name))


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits, or None outside a span (handy for error pages and tests)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None
