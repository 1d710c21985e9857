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

import socket
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from skiff_apiserver import bootstrap_auth, metrics
from skiff_apiserver.admission.limits import Limits
from skiff_apiserver.logs import log
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import apply, codec, discovery, openapi, patch, router, subresources
from skiff_apiserver.rest.auth import peer_user, ssl_context
from skiff_apiserver.rest.authz import PATH as ACCESS_REVIEW_PATH
from skiff_apiserver.rest.authz import self_subject_access_review
from skiff_apiserver.rest.exec import serve_exec
from skiff_apiserver.rest.handlers import ObjectHandlers, dry_run, object_response, request_timeout
from skiff_apiserver.rest.health import Health
from skiff_apiserver.rest.logs import serve_logs
from skiff_apiserver.rest.status import MethodNotAllowed, error_response, json_response
from skiff_apiserver.rest.watch import serve_watch
from skiff_apiserver.storage.deadline import set_deadline
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
    ) -> None:
        self.registry = registry
        self.limits = limits
        self.tls = tls
        # The client certificate kubelets are dialled with (--kubelet-client-certificate); the serving
        # certificate carries only serverAuth, so it cannot be presented to a kubelet.
        self.kubelet_tls = kubelet_tls or tls
        self.watch_queue_size = watch_queue_size
        self.objects = ObjectHandlers(registry)
        self.health = Health(registry)
        self.app = web.Application(middlewares=[self._trace, self._authenticate], client_max_size=3 * 1024 * 1024)
        add = self.app.router.add_get
        for path in ("/healthz", "/livez", "/readyz"):
            add(path, self.health.handle)
            add(path + "/{check}", self.health.handle)
        add("/version", discovery.get_version)
        add("/api", discovery.get_api)
        add("/apis", discovery.get_apis)
        add("/apis/{group}", discovery.get_group)
        add("/metrics", _metrics)
        add("/openapi/v2", openapi.get_v2)
        add("/openapi/v3", openapi.get_v3)
        add("/openapi/v3/{tail:.+}", openapi.get_v3_group_version)
        self.app.router.add_post(ACCESS_REVIEW_PATH, self._access_review)
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
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        anonymous_ok = request.path.startswith(_PUBLIC) or (request.method == "GET" and request.path in _ANONYMOUS_GET)
        if self.tls is not None and not anonymous_ok and peer_user(request) is None:
            if "Authorization" in request.headers:  # a joining kubelet's bootstrap token (bootstrap_auth.py)
                user = await bootstrap_auth.authenticate(self.registry, request.headers["Authorization"])
                if user is not None and bootstrap_auth.allowed(request.method, request.path):
                    return await handler(request)
                if user is not None:
                    return error_response(errors.Forbidden(f'User "{user[0]}" cannot {request.method} {request.path}'))
            return error_response(
                errors.Unauthenticated("Unauthorized: a client certificate from the cluster CA is required")
            )
        return await handler(request)

    async def _access_review(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self_subject_access_review(request)
        except errors.SkiffError as err:
            return error_response(err, kind="SelfSubjectAccessReview")

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
            if request.method == "GET" and not target.name and request.query.get("watch") in ("1", "true"):
                verb = "watch"
                return await serve_watch(request, target, self.registry, self.watch_queue_size)
            if request.method == "GET" and target.subresource == "log":  # long-running, like a watch
                verb = "log"
                return await serve_logs(request, target, self.registry, self.kubelet_tls)
            if target.subresource == "exec" and request.method in ("GET", "POST"):
                verb = "exec"
                return await serve_exec(request, target, self.registry, self.kubelet_tls)
            set_deadline(request_timeout(request))
            user = peer_user(request)
            with self.limits.admit(user[0] if user and self.limits.per_client else request.remote or ""):
                return await self._serve(request, target)
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
            if verb not in ("watch", "log", "exec"):
                metrics.latency.get(f"rest_{verb}", resource).observe(time.perf_counter() - started)

    async def _serve(self, request: web.Request, target: router.Target) -> web.StreamResponse:
        method, sub, objects = request.method, target.subresource, self.objects
        if method == "GET":
            if not target.name:
                return await objects.list(request, target)
            if sub in ("", "status"):
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
            if sub in ("", "status"):
                return await objects.update(request, target)
            if sub == "scale":
                return await subresources.update_scale(request, target, self.registry)
        elif method == "PATCH" and target.name:
            kind = patch.patch_type(request.headers.get("Content-Type", ""))
            raw = await request.read()
            if sub == "scale":
                return object_response(
                    request, await patch.patch_scale(self.registry, target, kind, raw, dry_run(request))
                )
            if sub == "" and kind == patch.APPLY:
                mode = codec.field_validation(request.query.get("fieldValidation", ""))
                manager = request.query.get("fieldManager", "")
                obj, warnings, created = await apply.apply(self.registry, target, raw, manager, mode, dry_run(request))
                return object_response(request, obj, 201 if created else 200, warnings)
            if sub in ("", "status") and kind != patch.APPLY:
                mode = codec.field_validation(request.query.get("fieldValidation", ""))
                obj, warnings = await patch.patch_object(self.registry, target, kind, raw, mode, dry_run(request))
                return object_response(request, obj, 200, warnings)
        elif method == "DELETE" and not sub:
            if target.name:
                return await objects.delete(request, target)
            return await objects.delete_collection(request, target)
        raise MethodNotAllowed(f"the server does not allow this method on the requested resource ({method})")


_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch"}


def _verb(method: str, target: router.Target) -> str:
    """Kubernetes' verb of a request (the metrics label): get/list, create, update, patch, delete,
    deletecollection (watch, log and exec are set where they are served)."""
    if method == "GET":
        return "get" if target.name else "list"
    if method == "DELETE":
        return "delete" if target.name else "deletecollection"
    return _VERBS.get(method, method.lower())


async def _metrics(request: web.Request) -> web.Response:
    """The process's Prometheus metrics, as kube-apiserver serves /metrics on its secure port."""
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


__all__ = ["RestApi", "json_response"]
