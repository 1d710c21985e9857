"""API aggregation: group versions served by another server, behind this one (Kubernetes' APIService).

    kubectl top ─> GET /apis/metrics.k8s.io/v1beta1/... ─> this middleware (after authentication)
                     ├─ authorized here as kube-apiserver authorizes a proxied request: verb (get, list,
                     │  watch, create...), resource, subresource, namespace and name from the path, by the
                     │  same gate as every other request (RBAC: `list pods.metrics.k8s.io`)
                     └─ forwarded to skiff-metrics over mutual TLS with the apiserver's certificate,
                        the user (certificate or bearer token) passed as X-Remote-User / X-Remote-Group,
                        the answer relayed as is
    GET /apis (legacy and aggregated discovery) ─> the built-in answer + each aggregated group version,
                     whose resources are read from the backend's /apis/<group>/<version> (cached briefly)

`--aggregated-apis metrics.k8s.io/v1beta1=https://127.0.0.1:10260` configures it, one entry per group
version, as an APIService object would. A backend that does not answer is left out of discovery and its
paths answer 503 ServiceUnavailable, which is what kubectl reports for an unavailable APIService.
It is a middleware installed by app.py, so the REST server's own routes stay untouched.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import aiohttp
from aiohttp import web
from skiff_apiserver.auth import user as users
from skiff_apiserver.auth.attributes import Attributes
from skiff_apiserver.auth.gate import Gate
from skiff_apiserver.logs import log
from skiff_apiserver.rest.status import error_response
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig

Handler = Any
_DISCOVERY_TTL = 10.0
_FORWARDED_HEADERS = ("Accept", "Content-Type", "User-Agent")


def parse_backends(spec: str) -> dict[tuple[str, str], str]:
    """ "group/version=URL,..." -> {(group, version): URL}; ValueError naming the flag otherwise."""
    out: dict[tuple[str, str], str] = {}
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        gv, sep, url = entry.partition("=")
        group, slash, version = gv.partition("/")
        if not sep or not slash or not group or not version or not url.startswith(("http://", "https://")):
            raise ValueError(f"--aggregated-apis: expected group/version=https://host:port, got {entry!r}")
        out[(group, version)] = url.rstrip("/")
    return out


def _unavailable(group: str, version: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 503,
            "reason": "ServiceUnavailable", "message": "the server is currently unable to handle the request",
            "details": {"group": group, "causes": [{"message": f"{group}/{version} is not available"}]}}  # fmt: skip
    return web.json_response(body, status=503)


_VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_attributes(user: users.UserInfo, method: str, path: str, query: Any) -> Attributes:
    """Kubernetes' request info for /apis/<group>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<sub>]]:
    a GET without a name is list (watch with ?watch=true), a DELETE without one deletecollection."""
    parts = [p for p in path.split("/") if p][1:]
    group, version, rest = parts[0], parts[1], parts[2:]
    namespace = ""
    if len(rest) >= 3 and rest[0] == "namespaces":
        namespace, rest = rest[1], rest[2:]
    elif len(rest) == 2 and rest[0] == "namespaces":  # the namespace object itself, as kube-apiserver reads it
        namespace = rest[1]
    resource, name, sub = [*rest, "", "", ""][:3]
    verb = _VERBS.get(method.upper(), method.lower())
    if not name and verb == "get":
        verb = "watch" if query.get("watch") in ("1", "true") else "list"
    elif not name and verb == "delete":
        verb = "deletecollection"
    return Attributes(user, verb, resource, sub, namespace, name, group, version)


class Aggregator:
    def __init__(self, backends: dict[tuple[str, str], str], tls: TLSConfig | None, gate: Gate | None = None) -> None:
        self.gate = gate
        self.backends = backends
        self.groups = {g for g, _ in backends}
        self._ssl: ssl.SSLContext | bool = True
        if tls is not None:
            self._ssl = ssl.create_default_context(cafile=tls.ca_file)
            self._ssl.load_cert_chain(tls.cert_file, tls.key_file)
        self._session: aiohttp.ClientSession | None = None
        self._resources: dict[tuple[str, str], tuple[float, list[dict[str, Any]] | None]] = {}

    def install(self, app: web.Application) -> None:
        app.middlewares.append(self.middleware)
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        return self._session

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        parts = request.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "apis" and parts[1] in self.groups:
            if len(parts) == 2:
                return await self._group(parts[1])
            if (parts[1], parts[2]) in self.backends:
                return await self._forward(request, parts[1], parts[2])
        response: web.StreamResponse = await handler(request)
        if request.path.rstrip("/") == "/apis" and isinstance(response, web.Response) and response.status == 200:
            return await self._extend_discovery(response)
        return response

    async def _forward(self, request: web.Request, group: str, version: str) -> web.StreamResponse:
        url = self.backends[(group, version)] + request.path_qs
        headers = {h: request.headers[h] for h in _FORWARDED_HEADERS if h in request.headers}
        user = users.current()
        if self.gate is not None and self.gate.secure and user is not None:
            try:  # the one authorization point of a proxied request (the backend trusts our word)
                self.gate.check(request_attributes(user, request.method, request.path, request.query))
            except errors.SkiffError as err:
                return error_response(err)
        if user is not None and user is not users.UNSECURED:
            headers["X-Remote-User"] = user.name
            headers["X-Remote-Group"] = ",".join(user.groups)
        try:
            async with self._client().request(
                request.method, url, headers=headers, data=await request.read() or None, ssl=self._ssl
            ) as resp:
                body = await resp.read()
                content_type = resp.headers.get("Content-Type", "application/json")
                return web.Response(body=body, status=resp.status, headers={"Content-Type": content_type})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("aggregated_api_unavailable", group=group, version=version, error=str(exc))
            return _unavailable(group, version)

    async def _backend_resources(self, group: str, version: str) -> list[dict[str, Any]] | None:
        cached = self._resources.get((group, version))
        if cached is not None and time.monotonic() - cached[0] < _DISCOVERY_TTL:
            return cached[1]
        found: list[dict[str, Any]] | None = None
        try:
            async with self._client().get(
                f"{self.backends[(group, version)]}/apis/{group}/{version}", ssl=self._ssl,
                timeout=aiohttp.ClientTimeout(total=5),
            ) as resp:  # fmt: skip
                if resp.status == 200:
                    found = list((await resp.json()).get("resources", []))
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("aggregated_discovery_failed", group=group, version=version, error=str(exc))
        self._resources[(group, version)] = (time.monotonic(), found)
        return found

    async def _available(self) -> dict[str, dict[str, list[dict[str, Any]]]]:
        out: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for group, version in self.backends:
            found = await self._backend_resources(group, version)
            if found is not None:
                out.setdefault(group, {})[version] = found
        return out

    async def _group(self, group: str) -> web.Response:
        versions = (await self._available()).get(group)
        if not versions:
            return _unavailable(group, next(v for g, v in self.backends if g == group))
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return web.json_response({"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
                                  "preferredVersion": gvs[0]})  # fmt: skip

    async def _extend_discovery(self, response: web.Response) -> web.Response:
        try:
            body = json.loads(response.body)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return response
        available = await self._available()
        if body.get("kind") == "APIGroupList":
            for group, versions in available.items():
                gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                body["groups"].append({"name": group, "versions": gvs, "preferredVersion": gvs[0]})
        elif body.get("kind") == "APIGroupDiscoveryList":
            for group, versions in available.items():
                body["items"].append({"metadata": {"name": group}, "versions": [
                    {"version": v, "resources": [_aggregated_resource(group, v, r) for r in found],
                     "freshness": "Current"} for v, found in versions.items()
                ]})  # fmt: skip
        else:
            return response
        return web.Response(
            body=json.dumps(body, separators=(",", ":")).encode(),
            status=200,
            headers={"Content-Type": response.headers.get("Content-Type", "application/json")},
        )


def _aggregated_resource(group: str, version: str, r: dict[str, Any]) -> dict[str, Any]:
    """An APIResourceList entry as apidiscovery's APIResourceDiscovery."""
    return {
        "resource": r["name"],
        "responseKind": {"group": group, "version": version, "kind": r.get("kind", "")},
        "scope": "Namespaced" if r.get("namespaced") else "Cluster",
        "singularResource": r.get("singularName", ""),
        "verbs": r.get("verbs", []),
    }


def install(app: web.Application, spec: str, tls: TLSConfig | None, gate: Gate | None = None) -> None:
    """Called by the apiserver's assembly when --aggregated-apis is set."""
    Aggregator(parse_backends(spec), tls, gate).install(app)
