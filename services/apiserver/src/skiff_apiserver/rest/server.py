"""The Kubernetes REST API over HTTPS, beside the gRPC API, on its own port (`--secure-port`).

One implementation, two encodings: every request ends in the same Registry (validation, admission,
storage, watch cache) the gRPC servicer calls; this package only speaks Kubernetes' paths and JSON.
Authentication is the gRPC port's: mutual TLS with client certificates signed by the cluster CA, the
user being the certificate's CN and its groups the O entries. The health endpoints and /version answer
without a certificate, as kube-apiserver's public-info role allows; everything else is 401 without one.
The same in-flight and per-client limits as gRPC apply (watches excepted, as there).

Why a second port rather than one: gRPC's server (grpc-core) owns its listening socket and speaks only
HTTP/2 with gRPC framing, and kubectl speaks HTTP/1.1 or HTTP/2 to it with JSON; sharing one port would
need a TLS-terminating front that sniffs ALPN/content-type and proxies one side, adding a hop to every
gRPC call. Two ports keep both paths direct.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from skiff_apiserver import bootstrap_auth, metrics
from skiff_apiserver.admission import warnings
from skiff_apiserver.admission.flowcontrol import level_of
from skiff_apiserver.admission.limits import Limits
from skiff_apiserver.audit import log as audit_log
from skiff_apiserver.audit.log import AuditLog
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.logs import log
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import (
    apply,
    authz,
    codec,
    discovery,
    handlers,
    openapi,
    openapi_v2,
    patch,
    router,
    subresources,
)
from skiff_apiserver.rest.auth import peer_user, ssl_context
from skiff_apiserver.rest.exec import serve_exec
from skiff_apiserver.rest.handlers import ObjectHandlers, dry_run, object_response, request_timeout
from skiff_apiserver.rest.health import Health
from skiff_apiserver.rest.logs import serve_logs
from skiff_apiserver.rest.portforward import serve_port_forward
from skiff_apiserver.rest.status import MethodNotAllowed, error_response, json_response
from skiff_apiserver.rest.watch import serve_watch
from skiff_apiserver.storage.deadline import set_deadline
from skiff_apiserver.storage.watcher import Watcher
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability.tracing import CachedTracer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_tracer = CachedTracer("skiff_apiserver.rest")
_PUBLIC = ("/healthz", "/livez", "/readyz", "/version")
# kubeadm's token discovery reads kube-public/cluster-info anonymously (its RBAC grants system:anonymous
# `get` on exactly this object); nothing secret is in it, and it is trusted only after the joining node
# checks its JWS signature and CA hash.
_ANONYMOUS_GET = ("/api/v1/namespaces/kube-public/configmaps/cluster-info",)


class RestApi:
    def __init__(
        self,
        registry: Registry,
        limits: Limits,
        *,
        tls: TLSConfig | None,
        watch_queue_size: int = 1000,
        kubelet_tls: TLSConfig | None = None,
        gate: Gate | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.audit = audit
        self.gate = gate if gate is not None else Gate(["AlwaysAllow"], registry.caches, secure=tls is not None)
        self.registry = registry
        self.limits = limits
        self.tls = tls
        # The client certificate kubelets are dialled with (--kubelet-client-certificate); the serving
        # certificate carries only serverAuth, so it cannot be presented to a kubelet.
        self.kubelet_tls = kubelet_tls or tls
        self.watch_queue_size = watch_queue_size
        self.objects = ObjectHandlers(registry)
        self.health = Health(registry)
        self.watchers: set[Watcher] = set()
        self.app = web.Application(
            middlewares=[self._trace, self._audit, self._bootstrap_token, self._authenticate],
            client_max_size=3 * 1024 * 1024,
        )
        add = self.app.router.add_get
        for path in ("/healthz", "/livez", "/readyz"):
            add(path, self.health.handle)
            add(path + "/{check}", self.health.handle)
        add("/version", discovery.get_version)
        add("/api", discovery.get_api)
        add("/apis", discovery.get_apis)
        add("/apis/{group}", discovery.get_group)
        add("/metrics", _metrics)
        add("/openapi/v2", openapi_v2.get_v2)
        add("/openapi/v3", openapi.get_v3)
        add("/openapi/v3/{tail:.+}", openapi.get_v3_group_version)
        authz.add_routes(self.app, self.gate, registry)
        self.app.router.add_route("*", "/api/{tail:.+}", self.dispatch)
        self.app.router.add_route("*", "/apis/{group}/{tail:.+}", self.dispatch)
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self, address: str, *, reuse_port: bool = False) -> int:
        host, _, port = address.rpartition(":")
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, host.strip("[]") or "127.0.0.1", int(port),
            ssl_context=ssl_context(self.tls) if self.tls else None, reuse_port=reuse_port,
        )  # fmt: skip
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else int(port)
        log.info("rest_api_started", port=self.port, tls=self.tls is not None)
        return self.port

    async def serve_socket(self, sock: socket.socket) -> None:
        """Serve on a socket the caller bound as well (e.g. the advertise address, see advertise.py)."""
        assert self._runner is not None, "start() first"
        await web.SockSite(self._runner, sock, ssl_context=ssl_context(self.tls) if self.tls else None).start()

    async def stop(self) -> None:
        self.health.stopping = True
        for watcher in list(self.watchers):  # each watch stream ends cleanly before connections close
            watcher.fail(errors.Unavailable("the apiserver is shutting down"))
        for _ in range(50):
            if not self.watchers:
                break
            await asyncio.sleep(0.01)
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _trace(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A SERVER span per request (W3C traceparent honoured), so etcd calls made for it are its children,
        as on the gRPC port."""
        parent = propagate.extract(request.headers)
        span = _tracer.get().start_span(
            f"{request.method} {request.path}", context=parent, kind=SpanKind.SERVER,
            attributes={"http.request.method": request.method, "url.path": request.path},
        )  # fmt: skip
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR, str(response.status)))
            return response
        finally:
            span.end()
            otel_context.detach(token)

    @web.middleware
    async def _bootstrap_token(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A joining kubelet's bootstrap token (bootstrap_auth.py): its user, for the next middleware to
        take, and only for what TLS bootstrap needs (CSRs); any other bearer token is left to the gate."""
        header = request.headers.get("Authorization", "")
        if self.tls is not None and header and peer_user(request) is None:
            user = await bootstrap_auth.authenticate(self.registry, header)
            if user is not None:
                if not bootstrap_auth.allowed(request.method, request.path):
                    return error_response(errors.Forbidden(f'User "{user[0]}" cannot {request.method} {request.path}'))
                request[authz.BOOTSTRAP_USER] = users.authenticated(user[0], user[1])
        return await handler(request)

    @web.middleware
    async def _audit(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """One audit event per request once it is answered (audit/log.py), bodies for the levels that
        want them."""
        if self.audit is None:
            return await handler(request)
        record = audit_log.begin()
        response = await handler(request)
        if record.attrs is not None:
            self.audit.write(
                record, code=response.status, uri=request.path_qs, source=request.remote or "",
                user_agent=request.headers.get("User-Agent", ""),
                request_object=_json_or_none(await request.read() if request.body_exists else b""),
                response_object=_json_or_none(getattr(response, "body", None)),
            )  # fmt: skip
        return response

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Who calls (auth/user.py, kept for the request); non-resource paths are authorized here, API
        paths in dispatch once the target is known."""
        try:
            public = request.path.startswith(_PUBLIC) or (request.method == "GET" and request.path in _ANONYMOUS_GET)
            authz.authenticate(request, self.gate, public=public)
            if not authz.is_resource_path(request.path):
                self.gate.check_path(request.method.lower(), request.path.rstrip("/") or "/")
        except errors.SkiffError as err:
            return error_response(err)
        return await handler(request)

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        verb, resource, code = request.method.lower(), "", "OK"
        names: dict[str, str] = {}
        try:
            target = router.parse(request.path)
            if isinstance(target, router.GroupVersion):
                found = discovery.resource_list_response(target.group, target.version)
                if found is None or request.method != "GET":
                    raise errors.NotFound(f"the server could not find the requested resource ({request.path})")
                return found
            if target is None:
                raise errors.NotFound(f"the server could not find the requested resource ({request.path})")
            info = target.info
            resource = info.resource + (f"/{target.subresource}" if target.subresource else "")
            verb = _verb(request.method, target)
            names = {"kind": info.kind, "resource": info.resource, "group": info.group, "name": target.name}
            user = peer_user(request)
            watching = request.method == "GET" and not target.name and request.query.get("watch") in ("1", "true")
            if watching:
                verb = "watch"
            elif target.subresource in _STREAMING:
                verb = target.subresource
            authz.authorize(self.gate, request, target, verb)  # the one authorization point (auth/gate.py)
            if watching:
                return await serve_watch(request, target, self.registry, self.watch_queue_size, self.watchers)
            if request.method == "GET" and target.subresource == "log":  # long-running, like a watch
                return await serve_logs(request, target, self.registry, self.kubelet_tls)
            if target.subresource in ("exec", "attach") and request.method in ("GET", "POST"):
                return await serve_exec(request, target, self.registry, self.kubelet_tls)
            if target.subresource == "portforward" and request.method in ("GET", "POST"):
                return await serve_port_forward(request, target, self.registry, self.kubelet_tls)
            set_deadline(request_timeout(request))
            warnings.start()
            client = user[0] if user and self.limits.per_client else request.remote or ""
            with self.limits.admit(client, level_of(users.current())):
                response = await self._serve(request, target)
            for said in warnings.take():  # admission's (Pod Security), beside the decoder's
                response.headers.add("Warning", f"299 - {json.dumps(said)}")
            return response
        except errors.SkiffError as err:
            code = type(err).__name__
            if names and not names["name"]:  # a create names its object in the body
                names["name"] = err.metadata.get("rest.name", "")
            return error_response(err, **names)
        except Exception as exc:
            code = "InternalError"
            log.exception("rest_request_failed", path=request.path, method=request.method)
            return error_response(errors.InternalError(f"an internal error occurred: {type(exc).__name__}"), **names)
        finally:
            metrics.requests.get(f"rest_{verb}", resource, code).inc()
            if verb != "watch" and verb not in _STREAMING:
                metrics.latency.get(f"rest_{verb}", resource).observe(time.perf_counter() - started)

    async def _serve(self, request: web.Request, target: router.Target) -> web.StreamResponse:
        method, sub, objects = request.method, target.subresource, self.objects
        if method == "GET":
            if not target.name:
                return await objects.list(request, target)
            if sub in ("", "status", "approval"):
                return await objects.get(request, target)
            if sub == "scale":
                return await subresources.get_scale(request, target, self.registry)
        elif method == "POST":
            if not target.name:
                return await objects.create(request, target)
            if sub == "binding":
                return await subresources.bind(request, target, self.registry)
            if sub == "eviction":
                return await subresources.evict(request, target, self.registry)
        elif method == "PUT" and target.name:
            if sub in ("", "status", "finalize", "approval"):  # the object, or the part a subresource replaces
                return await objects.update(request, target)
            if sub == "scale":
                return await subresources.update_scale(request, target, self.registry)
        elif method == "PATCH" and target.name:
            kind = patch.patch_type(request.headers.get("Content-Type", ""))
            raw = await request.read()
            if sub == "scale":
                return object_response(
                    request,
                    await patch.patch_scale(
                        self.registry, target, kind, raw, dry_run(request), handlers.manager(request)
                    ),
                )
            if sub == "" and kind == patch.APPLY:
                mode = codec.field_validation(request.query.get("fieldValidation", ""))
                manager = request.query.get("fieldManager", "")
                force = request.query.get("force", "") in ("true", "1")
                obj, warnings, created = await apply.apply(
                    self.registry, target, raw, manager, mode, dry_run(request), force
                )
                return object_response(request, obj, 201 if created else 200, warnings)
            if sub in ("", "status", "approval") and kind != patch.APPLY:
                mode = codec.field_validation(request.query.get("fieldValidation", ""))
                obj, warnings = await patch.patch_object(
                    self.registry, target, kind, raw, mode, dry_run(request), handlers.manager(request)
                )
                return object_response(request, obj, 200, warnings)
        elif method == "DELETE" and not sub:
            if target.name:
                return await objects.delete(request, target)
            return await objects.delete_collection(request, target)
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource ({method})")


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}
_STREAMING = ("log", "exec", "attach", "portforward")  # long-running: no latency metric, no in-flight slot


def _verb(method: str, target: router.Target) -> str:
    """Kubernetes' verb of a request (the metrics label): get/list, create, update, patch, delete,
    deletecollection (watch, log and exec are set where they are served)."""
    if method == "GET":
        return "get" if target.name else "list"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    return _VERBS.get(method, method.lower())


def _json_or_none(body: object) -> object:
    if not isinstance(body, bytes) or not body.startswith(b"{"):
        return None
    try:
        return json.loads(body)
    except ValueError:
        return None


async def _metrics(request: web.Request) -> web.Response:
    """The process's Prometheus metrics, as kube-apiserver serves /metrics on its secure port."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


__all__ = ["RestApi", "json_response"]
