"""Client side: a CLIENT span per call, `traceparent` injected into the request metadata, and metrics.

Tracing and metrics share one small `_CallObserver` because the hard part on the client is the
*lifecycle* of a call, not what is recorded:

* unary responses: the interceptor awaits `call.code()` (which never raises) before returning the call,
  so the span and the counters are complete by the time the caller's `await stub.Method(...)` returns.
* streaming responses: the interceptor returns an async iterator wrapping the call (grpc.aio then
  exposes it as a `UnaryStreamCallResponseIterator`, so `read()`, `cancel()`, `code()` still work); the
  observer finishes when the stream ends, fails, or the consumer stops early (recorded as CANCELLED).
  A done-callback catches streams that are cancelled without ever being iterated.

Each observer finishes exactly once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from grpc.aio import ClientCallDetails, Metadata
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram

from skiff_common.grpcutil._wrapping import MethodInfo
from skiff_common.grpcutil.metrics import (
    APISERVER_SERVICE,
    CLIENT_HANDLED,
    CLIENT_HANDLING_SECONDS,
    REST_CLIENT_DURATION,
    REST_CLIENT_REQUESTS,
    http_code,
    http_method,
)
from skiff_common.observability.metrics import LabelCache
from skiff_common.observability.tracing import CachedTracer

_tracer = CachedTracer("skiff_common.grpcutil")
_handled: LabelCache[Counter] = LabelCache(CLIENT_HANDLED)
_seconds: LabelCache[Histogram] = LabelCache(CLIENT_HANDLING_SECONDS)
_rest_requests: LabelCache[Counter] = LabelCache(REST_CLIENT_REQUESTS)
_rest_seconds: LabelCache[Histogram] = LabelCache(REST_CLIENT_DURATION)


class _CallObserver:
    def __init__(self, details: ClientCallDetails, host: str) -> None:
        self.info = MethodInfo.parse(details.method)
        self.host = host
        self.start = time.monotonic()
        self.span = _tracer.get().start_span(
            self.info.span_name, kind=SpanKind.CLIENT, attributes=self.info.span_attributes
        )
        self._done = False

    def details_with_traceparent(self, details: ClientCallDetails) -> ClientCallDetails:
        metadata = Metadata(*tuple(details.metadata or ()))
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(self.span))
        for key, value in carrier.items():
            metadata[key] = value  # replaces an existing traceparent instead of sending two
        return ClientCallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready)

    def finish(self, code: grpc.StatusCode, message: str = "") -> None:
        if self._done:
            return
        self._done = True
        elapsed = time.monotonic() - self.start
        _handled.get(self.info.service, self.info.method, code.name).inc()
        _seconds.get(self.info.service, self.info.method).observe(elapsed)
        if self.info.service == APISERVER_SERVICE:
            method = http_method(self.info.method)
            _rest_requests.get(http_code(code.name, self.info.method), self.host, method).inc()
            if self.info.method != "Watch":  # long-running, as client-go leaves watches out of latency
                _rest_seconds.get(self.host, method).observe(elapsed)
        self.span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code is not grpc.StatusCode.OK:
            self.span.set_status(Status(StatusCode.ERROR, f"{code.name}: {message}" if message else code.name))
        self.span.end()


async def _observe_unary(observer: _CallObserver, call: Any) -> Any:
    try:
        code = await call.code()
        observer.finish(code, (await call.details()) or "")
    except grpc.aio.AioRpcError as err:
        observer.finish(err.code(), err.details() or "")
        raise
    except BaseException:  # our caller was cancelled: do not leave the RPC running
        call.cancel()
        observer.finish(grpc.StatusCode.CANCELLED)
        raise
    return call


async def _observe_stream(observer: _CallObserver, call: Any) -> AsyncIterator[Any]:
    try:
        async for item in call:
            yield item
    except grpc.aio.AioRpcError as err:
        observer.finish(err.code(), err.details() or "")
        raise
    except BaseException:  # consumer stopped early (GeneratorExit) or task cancelled
        call.cancel()
        observer.finish(grpc.StatusCode.CANCELLED)
        raise
    observer.finish(grpc.StatusCode.OK)


def _finish_on_cancel(observer: _CallObserver) -> Callable[[Any], None]:
    def callback(call: Any) -> None:
        if call.cancelled():
            observer.finish(grpc.StatusCode.CANCELLED)

    return callback


class _Observing:
    """Interceptors remember the channel's target: client-go labels its request metrics by host."""

    def __init__(self, host: str = "") -> None:
        self.host = host


class ObservingUnaryUnary(_Observing, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(
        self,
        continuation: Callable[[ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: ClientCallDetails,
        request: Any,
    ) -> Any:
        observer = _CallObserver(client_call_details, self.host)
        call = await continuation(observer.details_with_traceparent(client_call_details), request)
        return await _observe_unary(observer, call)


class ObservingStreamUnary(_Observing, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(
        self,
        continuation: Callable[[ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        observer = _CallObserver(client_call_details, self.host)
        call = await continuation(observer.details_with_traceparent(client_call_details), request_iterator)
        return await _observe_unary(observer, call)


class ObservingUnaryStream(_Observing, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(
        self,
        continuation: Callable[[ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: ClientCallDetails,
        request: Any,
    ) -> Any:
        observer = _CallObserver(client_call_details, self.host)
        call = await continuation(observer.details_with_traceparent(client_call_details), request)
        call.add_done_callback(_finish_on_cancel(observer))
        return _observe_stream(observer, call)


class ObservingStreamStream(_Observing, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(
        self,
        continuation: Callable[[ClientCallDetails, Any], Awaitable[Any]],
        client_call_details: ClientCallDetails,
        request_iterator: Any,
    ) -> Any:
        observer = _CallObserver(client_call_details, self.host)
        call = await continuation(observer.details_with_traceparent(client_call_details), request_iterator)
        call.add_done_callback(_finish_on_cancel(observer))
        return _observe_stream(observer, call)


def default_client_interceptors(host: str = "") -> list[grpc.aio.ClientInterceptor]:
    return [
        ObservingUnaryUnary(host),
        ObservingUnaryStream(host),
        ObservingStreamUnary(host),
        ObservingStreamStream(host),
    ]
