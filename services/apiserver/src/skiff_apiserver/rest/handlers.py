"""The verbs on objects and collections: get, list, create, update, delete, deletecollection, and the
status subresource, each one call into the same Registry the gRPC servicer uses.

Only the encoding is the REST port's own: query parameters become the registry's options, bodies are
decoded with the requested fieldValidation, answers are Kubernetes JSON or a Table (`kubectl get`).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from aiohttp import web
from google.protobuf.message import Message
from skiff_apiserver.machinery import convert
from skiff_apiserver.registry import bounds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.reads import ListOptions
from skiff_apiserver.rest import codec, fieldmanager, printers
from skiff_apiserver.rest.printers.cache import TableCache
from skiff_apiserver.rest.router import Target
from skiff_apiserver.rest.status import json_response, status_body
from skiff_common import errors


def warning_headers(warnings: list[str]) -> dict[str, str]:
    """RFC 7234 Warning headers, as Kubernetes sends them (code 299, agent "-")."""
    if not warnings:
        return {}
    return {"Warning": ", ".join(f"299 - {json.dumps(w)}" for w in warnings)}


def dry_run(request: web.Request, body: dict[str, Any] | None = None) -> bool:
    values = request.query.getall("dryRun", [])
    if body is not None and isinstance(body.get("dryRun"), list):
        values = [*values, *body["dryRun"]]
    for v in values:
        if v != "All":
            raise errors.BadRequest(f'dryRun: unsupported value "{v}": supported values: "All"')
    return bool(values)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def request_timeout(request: web.Request) -> float | None:
    """`?timeout=` (a Go duration such as "32s" or "1m0s", what `kubectl --request-timeout` sends): the
    request's deadline, carried to every etcd call it makes, as the gRPC deadline is."""
    raw = request.query.get("timeout", "")
    if not raw:
        return None
    parts = _DURATION.findall(raw)
    if not parts or "".join(n + u for n, u in parts) != raw:
        raise errors.BadRequest(f'timeout: invalid duration "{raw}" (e.g. "30s", "1m0s")')
    return sum(float(n) * _UNITS[u] for n, u in parts)


def manager(request: web.Request) -> str:
    return fieldmanager.manager_of(request.query.get("fieldManager", ""), request.headers.get("User-Agent", ""))


def int_value(raw: str, name: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(f"{name}: invalid value {raw!r}: must be an integer") from None


def int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise errors.BadRequest(f"{name}: invalid value {raw!r}: must be an integer") from None


def list_options(request: web.Request, target: Target) -> ListOptions:
    q = request.query
    rv = q.get("resourceVersion", "")
    match = q.get("resourceVersionMatch", "")
    if match not in ("", "NotOlderThan", "Exact"):
        raise errors.BadRequest(f'resourceVersionMatch: unsupported value "{match}": use "NotOlderThan" or "Exact"')
    if match and not rv:
        raise errors.BadRequest("resourceVersionMatch is forbidden unless resourceVersion is provided")
    bounds.resource_version(rv)  # a non-negative integer, as Kubernetes requires
    if rv not in ("", "0") and match != "Exact":
        # Kubernetes' default for a list at "N" is NotOlderThan: the latest state satisfies it (etcd reads
        # are linearizable), and unlike a read at exactly N it cannot fail once N is compacted.
        int_value(rv, "resourceVersion")
        rv = ""
    return ListOptions(
        namespace=target.namespace,
        label_selector=q.get("labelSelector", ""),
        field_selector=q.get("fieldSelector", ""),
        limit=int_param(request, "limit") or 0,
        continue_token=q.get("continue", ""),
        resource_version=rv,
    )


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata") or "Metadata"
    if value not in ("None", "Metadata", "Object"):
        raise errors.BadRequest(f'includeObject: unsupported value "{value}": use None, Metadata or Object')
    return value


def object_response(
    request: web.Request, obj: Message, status: int = 200, warnings: list[str] | None = None
) -> web.Response:
    headers = warning_headers(warnings or [])
    if printers.wants_table(request.headers.get("Accept", "")):
        meta = {"resourceVersion": obj.metadata.resource_version}  # type: ignore[attr-defined]
        kind = type(obj).DESCRIPTOR.name
        body = printers.table(kind, [obj], meta, _include_object(request))
        return json_response(body, status, headers, content_type=printers.TABLE_CONTENT_TYPE)
    return json_response(codec.encode(obj), status, headers)


async def read_body(request: web.Request) -> Any:
    return codec.parse_body(await request.read(), request.headers.get("Content-Type", "application/json"))


def _place(obj: Message, target: Target, *, name_from_url: bool) -> None:
    """Check the body's namespace and name against the URL's, filling them in when absent."""
    m = obj.metadata  # type: ignore[attr-defined]
    if target.info.namespaced:
        if m.namespace and m.namespace != target.namespace:
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        m.namespace = target.namespace
    if name_from_url:
        if m.name and m.name != target.name:
            raise errors.BadRequest(
                f"the name of the object ({m.name}) does not match the name on the URL ({target.name})"
            )
        m.name = target.name


class ObjectHandlers:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.items = codec.ItemCache()
        self.rows = TableCache()

    async def get(self, request: web.Request, target: Target) -> web.Response:
        obj = await self.registry.get(
            target.info, target.namespace, target.name, request.query.get("resourceVersion", "")
        )
        return object_response(request, obj)

    async def list(self, request: web.Request, target: Target) -> web.Response:
        items, meta = await self.registry.list(target.info, list_options(request, target))
        if printers.wants_table(request.headers.get("Accept", "")):
            list_meta = codec.list_meta(meta.resource_version, meta.continue_token)
            table = self.rows.body(target.info.kind, items, list_meta, _include_object(request))
            return web.Response(body=table, headers={"Content-Type": printers.TABLE_CONTENT_TYPE})
        data = self.items.list_body(target.info, items, meta.resource_version, meta.continue_token)
        return web.Response(body=data, headers={"Content-Type": "application/json"})

    async def create(self, request: web.Request, target: Target) -> web.Response:
        mode = codec.field_validation(request.query.get("fieldValidation", ""))
        body = await read_body(request)
        obj, warnings = codec.decode(body, target.info, mode)
        _place(obj, target, name_from_url=False)
        if isinstance(body, dict):
            fieldmanager.record_update(target.info, manager(request), None, None, body, obj)
        try:
            created = await self.registry.create(obj, dry_run=dry_run(request))
        except errors.SkiffError as err:
            err.metadata.setdefault("rest.name", obj.metadata.name)  # type: ignore[attr-defined]
            raise
        return object_response(request, created, 201, warnings)

    async def update(self, request: web.Request, target: Target) -> web.Response:
        mode = codec.field_validation(request.query.get("fieldValidation", ""))
        body = await read_body(request)
        obj, warnings = codec.decode(body, target.info, mode)
        _place(obj, target, name_from_url=True)
        if not target.subresource and isinstance(body, dict):
            namespace = target.namespace if target.info.namespaced else ""
            current, _ = await self.registry.store.read(target.info, namespace, target.name)
            fieldmanager.record_update(target.info, manager(request), convert.to_dict(current), current, body, obj)
        updated = await self.registry.update(obj, subresource=target.subresource, dry_run=dry_run(request))
        return object_response(request, updated, 200, warnings)

    async def delete(self, request: web.Request, target: Target) -> web.Response:
        options = await _delete_options(request)
        deleted = await self.registry.delete(target.info, target.namespace, target.name, **options)
        return object_response(request, deleted)

    async def delete_collection(self, request: web.Request, target: Target) -> web.Response:
        """Every object the selectors match, deleted one by one with the same options (Kubernetes does
        the same: deletecollection is a list and a delete per item)."""
        options = await _delete_options(request)
        opts = list_options(request, target)
        items, meta = await self.registry.list(target.info, dataclasses.replace(opts, limit=0))
        deleted: list[Message] = []
        for item in items:
            m = item.metadata  # type: ignore[attr-defined]
            try:
                deleted.append(await self.registry.delete(target.info, m.namespace, m.name, **options))
            except errors.NotFound:
                continue  # gone meanwhile: that is what was asked
        return json_response(codec.encode_list(target.info, deleted, meta.resource_version, ""))


async def _delete_options(request: web.Request) -> dict[str, Any]:
    """DeleteOptions from the body (kubectl sends one) and the query string (the Python client may)."""
    body: dict[str, Any] = {}
    raw = await request.read()
    if raw.strip():
        parsed = codec.parse_body(raw, request.headers.get("Content-Type", "application/json"))
        if not isinstance(parsed, dict):
            raise errors.BadRequest("DeleteOptions must be a JSON object")
        body = parsed
    q = request.query
    grace = body.get("gracePeriodSeconds", int_param(request, "gracePeriodSeconds"))
    propagation = body.get("propagationPolicy") or q.get("propagationPolicy", "")
    if not propagation and (body.get("orphanDependents") or q.get("orphanDependents") == "true"):
        propagation = "Orphan"
    pre = body.get("preconditions") or {}
    if not isinstance(pre, dict) or (grace is not None and not isinstance(grace, int)):
        raise errors.BadRequest("DeleteOptions: preconditions must be an object, gracePeriodSeconds an integer")
    return {
        "grace": grace,
        "propagation": propagation,
        "uid": pre.get("uid"),
        "rv": pre.get("resourceVersion"),
        "dry_run": dry_run(request, body),
    }


def success(details: dict[str, Any] | None = None, code: int = 200) -> web.Response:
    return json_response(status_body(code, "", "", details, success=True), code)
