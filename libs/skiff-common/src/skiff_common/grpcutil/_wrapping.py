"""The one trick every Skiff server interceptor shares: wrap the handler, not the continuation.

A grpc.aio `ServerInterceptor` only sees the call *before* the handler runs; to observe the outcome
(status code, duration, exception) it must return a new `RpcMethodHandler` whose behaviour wraps the
original one. `wrap_handler_with` does that for all four RPC shapes; `wrap_handler` runs the behaviour
inside an async context manager (`around`, for `HandlerInterceptor` subclasses). Wrapped handlers are
cached per method (`HandlerCache`): building them per call was a measurable part of every request.
Layers never swallow exceptions except error mapping, which turns them into a status via `context.abort`.

Streaming responses: grpc.aio accepts either an async generator (`yield`) or a coroutine that calls
`context.write`. Our wrapper is ALWAYS a coroutine that drives the original generator itself and writes
each item. Wrapping with another async generator looks simpler but is unsafe: when the client cancels
while grpc is between two `__anext__` calls, grpc abandons the generator suspended at `yield`, and its
`finally` blocks (our layers' bookkeeping) only run when the event loop finalises it -- after the call
object is gone, where touching `context` crashes the process. Driving the generator ourselves means
cancellation arrives as CancelledError inside our coroutine while the call is alive, and
`contextlib.aclosing` closes the original generator deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio

from skiff_common.errors import SkiffError, status_code_from_int


@dataclass(frozen=True)
class MethodInfo:
    """ "/skiff.core.v1.Pods/Create" split into service "skiff.core.v1.Pods" and method "Create".

    Built once per method (handlers are cached per method, see `HandlerCache`), so the span name and
    span attributes are computed here rather than on every call."""

    full_method: str
    service: str
    method: str
    span_name: str = field(default="", compare=False)
    span_attributes: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def parse(cls, full_method: str | bytes) -> MethodInfo:
        if isinstance(full_method, bytes):  # grpc has passed bytes here in some releases
            full_method = full_method.decode()
        service, _, method = full_method.lstrip("/").rpartition("/")
        service, method = service or "unknown", method or full_method
        attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": method}
        return cls(full_method, service, method, f"{service}/{method}", attributes)


Around = Callable[[grpc.aio.ServicerContext[Any, Any]], AbstractAsyncContextManager[None]]


def context_code(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    """The status the handler set (or `abort` sent); OK when none was set."""
    code: Any = context.code()
    if code is None:
        return grpc.StatusCode.OK
    if isinstance(code, grpc.StatusCode):
        return code
    return status_code_from_int(int(code))


def outcome_code(exc: BaseException | None, context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode:
    """The status code the client will see, given how the (inner) handler finished."""
    if exc is None or isinstance(exc, grpc.aio.AbortError):
        return context_code(context)
    if isinstance(exc, SkiffError):
        return exc.code
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        # grpc cancels the handler both when the client goes away and when its deadline passes.
        remaining = context.time_remaining() if isinstance(exc, asyncio.CancelledError) else None
        if remaining is not None and remaining <= 0:
            return grpc.StatusCode.DEADLINE_EXCEEDED
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.INTERNAL


def _wrap_behavior(behavior: Callable[..., Any], streaming_response: bool, around: Around) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(behavior) or (streaming_response and not inspect.iscoroutinefunction(behavior)):

        async def stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            async with around(context):
                responses = behavior(request, context)
                if hasattr(responses, "__aiter__"):
                    async with contextlib.aclosing(responses):
                        async for item in responses:
                            await context.write(item)
                else:  # a plain iterator from a sync generator
                    for item in responses:
                        await context.write(item)

        return stream

    async def call(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
        # Unary responses, write-style streaming handlers and our own inner wrappers all land here.
        async with around(context):
            result = behavior(request, context)
            if inspect.isawaitable(result):
                result = await result
            return result

    return call


WrapBehavior = Callable[[Callable[..., Any], bool], Callable[..., Any]]


def wrap_handler_with(handler: grpc.RpcMethodHandler[Any, Any], wrap: WrapBehavior) -> grpc.RpcMethodHandler[Any, Any]:
    """A copy of `handler` whose behaviour is `wrap(behavior, streaming_response)`."""
    kw: dict[str, Any] = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(wrap(handler.unary_unary, False), **kw)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(wrap(handler.unary_stream, True), **kw)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(wrap(handler.stream_unary, False), **kw)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(wrap(handler.stream_stream, True), **kw)
    return handler


def wrap_handler(handler: grpc.RpcMethodHandler[Any, Any], around: Around) -> grpc.RpcMethodHandler[Any, Any]:
    return wrap_handler_with(handler, lambda behavior, streaming: _wrap_behavior(behavior, streaming, around))


class HandlerCache:
    """Wrapped handlers per (method, original handler): wrapping is done once per method, not per call.

    grpc's generic and registered handlers hand out the same handler object for a method on every call,
    so the cache holds one entry per method. It is keyed by the handler's id and keeps the handler alive
    (so an id cannot be reused while cached); a server whose handlers are built per call simply stops
    caching at `limit` entries instead of growing."""

    def __init__(self, limit: int = 4096) -> None:
        self._entries: dict[tuple[str | bytes, int], tuple[Any, Any]] = {}
        self._limit = limit

    def get(
        self,
        method: str | bytes,
        handler: grpc.RpcMethodHandler[Any, Any],
        make: Callable[[MethodInfo], grpc.RpcMethodHandler[Any, Any]],
    ) -> grpc.RpcMethodHandler[Any, Any]:
        key = (method, id(handler))
        entry = self._entries.get(key)
        if entry is not None:
            return entry[1]  # type: ignore[no-any-return]
        wrapped = make(MethodInfo.parse(method))
        if len(self._entries) < self._limit:
            self._entries[key] = (handler, wrapped)
        return wrapped


class HandlerInterceptor(grpc.aio.ServerInterceptor):
    """Base class: subclasses implement `around(info, context)` as an async context manager.

    Convenient for a service's own extra layer; Skiff's built-in layers are fused into one wrapper
    (server_observe.py) because each stacked context manager costs a generator per call."""

    _handlers: HandlerCache | None = None

    def around(
        self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:  # unknown method: grpc answers UNIMPLEMENTED itself
            return handler
        if self._handlers is None:
            self._handlers = HandlerCache()
        return self._handlers.get(
            handler_call_details.method,
            handler,
            lambda info: wrap_handler(handler, lambda context: self.around(info, context)),
        )
