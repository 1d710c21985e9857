"""What every handler shares: admission, the caller's deadline, per-resource metrics and a span. Domain
errors are raised, not turned into statuses here: skiff_common's error interceptor is the one place that
maps them (and logs unexpected exceptions with their traceback)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from opentelemetry import trace
from skiff_common import errors

from skiff_apiserver import metrics
from skiff_apiserver.admission import warnings
from skiff_apiserver.admission.flowcontrol import level_of
from skiff_apiserver.admission.limits import Limits, client_identity
from skiff_apiserver.audit import log as audit
from skiff_apiserver.audit.log import AuditLog
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.status import error_status
from skiff_apiserver.storage.deadline import set_deadline

R = TypeVar("R")


class Handlers:
    """Base of the servicer mixins: holds the registry, the limits and the server settings."""

    def __init__(
        self,
        registry: Registry,
        limits: Limits,
        *,
        watch_queue_size: int,
        bookmark_interval: float,
        gate: Gate | None = None,
    ) -> None:
        self.registry = registry
        self.limits = limits
        self.gate = gate if gate is not None else Gate(["AlwaysAllow"], registry.caches, secure=False)
        self.audit: AuditLog | None = None  # set by the app with --audit-log-path
        self.watch_queue_size = watch_queue_size
        self.bookmark_interval = bookmark_interval


def resource_of(name: str) -> KindInfo:
    if not name:
        raise errors.BadRequest('resource is required (e.g. "pods")')
    return kinds.lookup_resource(name)


def unpack(obj: any_pb2.Any, field: str = "object") -> Message:
    if not obj.type_url:
        raise errors.BadRequest(f"{field} is required")
    return kinds.unpack(obj)


def pack(obj: Message) -> any_pb2.Any:
    return kinds.pack(obj)


def rpc(verb: str, resource: Callable[[Any], str], *, long_running: bool = False) -> Callable[..., Any]:
    """Wrap a handler: the caller's identity (auth/user.py; the handler authorizes what it asks, as only it
    knows the namespace and name), admission (unless long-running), deadline, metrics, span."""

    def wrap(fn: Callable[..., Awaitable[R]]) -> Callable[..., Awaitable[R]]:
        @functools.wraps(fn)
        async def handler(self: Handlers, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
            res = ""
            code = "OK"
            started = time.perf_counter()
            try:
                res = resource(request) or ""
            except Exception:
                res = ""
            # skiff_common's tracing interceptor already opened the request's span (etcd calls become its
            # children); it only lacks what the apiserver knows.
            span = trace.get_current_span()
            span.set_attributes({"skiff.verb": verb, "skiff.resource": res})
            record = audit.begin() if self.audit is not None else None
            status = 201 if verb == "create" else 200
            try:
                users.set_current(self.gate.grpc_user(context.auth_context() or {}, context.invocation_metadata()))
                set_deadline(context.time_remaining())
                if long_running:
                    return await fn(self, request, context)
                warnings.start()
                with self.limits.admit(
                    client_identity(context) if self.limits.per_client else "", level_of(users.current())
                ):
                    out = await fn(self, request, context)
                said = warnings.take()
                if said:  # admission's warnings (Pod Security), as trailing metadata
                    context.set_trailing_metadata(tuple(("warning", w) for w in said))
                return out
            except errors.SkiffError as err:
                # Mapped to a status by skiff_common's error interceptor, the one place that does it.
                code = err.code.name
                status = error_status(err)[0]
                span.set_attribute("skiff.error", code)
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            except Exception:
                code = "INTERNAL"  # logged with its traceback by the error interceptor
                status = 500
                raise
            finally:
                if record is not None and self.audit is not None:
                    self.audit.write(record, code=status, uri=f"grpc:{fn.__name__}", source=context.peer() or "")
                metrics.requests.get(verb, res, code).inc()
                if not long_running:
                    metrics.latency.get(verb, res).observe(time.perf_counter() - started)

        return handler

    return wrap
