"""/openapi/v3 (and an empty /openapi/v2), generated from the protobuf descriptors of the served kinds.

kubectl reads these documents for `explain` (v3), for the patch metadata of `apply` (v3: the
`x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` extensions, the same table strategic.py
applies), and to learn that the server validates fields itself (a PATCH operation that lists the
`fieldValidation` parameter). So each group-version document has one schema per message (properties
typed from the proto fields; Quantity, IntOrString, Timestamp and Any in their Kubernetes JSON shapes),
`x-kubernetes-group-version-kind` on each kind, the list types server-side apply uses
(`x-kubernetes-list-type` map/set/atomic with `x-kubernetes-list-map-keys`, `x-kubernetes-map-type:
atomic` for LabelSelector: fieldpaths.py's rules), and the resources' paths with their PATCH parameters.
There are no descriptions: the proto comments are not in the runtime descriptors.

/openapi/v2 is the same schemas as one Swagger 2.0 document (openapi_v2.py).
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from aiohttp import web
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.rest import fieldpaths, resources, strategic

_F = FieldDescriptor
_SCALARS: dict[int, dict[str, Any]] = {
    _F.TYPE_STRING: {"type": "string"},
    _F.TYPE_BYTES: {"type": "string", "format": "byte"},
    _F.TYPE_BOOL: {"type": "boolean"},
    _F.TYPE_INT32: {"type": "integer", "format": "int32"},
    _F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_UINT32: {"type": "integer", "format": "int32"},
    _F.TYPE_INT64: {"type": "integer", "format": "int64"},
    _F.TYPE_SINT64: {"type": "integer", "format": "int64"},
    _F.TYPE_UINT64: {"type": "integer", "format": "int64"},
    _F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    _F.TYPE_FLOAT: {"type": "number", "format": "double"},
    _F.TYPE_ENUM: {"type": "string"},
}
_SPECIAL: dict[str, dict[str, Any]] = {
    "Quantity": {"type": "string"},
    "IntOrString": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
    "Timestamp": {"type": "string", "format": "date-time"},
    "Any": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    "Struct": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}
_PATCH_PARAMS = ("dryRun", "fieldManager", "fieldValidation", "force")


def _ref(desc: Descriptor, todo: list[Descriptor]) -> dict[str, Any]:
    special = _SPECIAL.get(desc.name)
    if special is not None:
        return dict(special)
    todo.append(desc)
    return {"$ref": f"#/components/schemas/{desc.full_name}"}


def _value(field: FieldDescriptor, todo: list[Descriptor]) -> dict[str, Any]:
    if field.message_type is not None:
        return _ref(field.message_type, todo)
    return dict(_SCALARS.get(field.type, {"type": "string"}))


def _field(owner: Descriptor, field: FieldDescriptor, todo: list[Descriptor]) -> dict[str, Any]:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        return {"type": "object", "additionalProperties": _value(entry.fields_by_name["value"], todo)}
    if not field.is_repeated:
        return _value(field, todo)
    out: dict[str, Any] = {"type": "array", "items": _value(field, todo)}
    merge, key = strategic.merge_key(owner, field.json_name)
    if merge:
        out["x-kubernetes-patch-strategy"] = "merge"
        if key:
            out["x-kubernetes-patch-merge-key"] = key
    associative, keys = fieldpaths.list_keys(owner, field.json_name)
    if not associative:
        out["x-kubernetes-list-type"] = "atomic"
    elif keys:
        out["x-kubernetes-list-type"] = "map"
        out["x-kubernetes-list-map-keys"] = list(keys)
    else:
        out["x-kubernetes-list-type"] = "set"
    return out


def _message(desc: Descriptor, todo: list[Descriptor]) -> dict[str, Any]:
    props = {f.json_name: _field(desc, f, todo) for f in desc.fields}
    out: dict[str, Any] = {"type": "object", "properties": props}
    if desc.name in fieldpaths.ATOMIC_STRUCTS:
        out["x-kubernetes-map-type"] = "atomic"
    return out


def _paths(info: KindInfo) -> dict[str, Any]:
    base = "/api/v1" if not info.group else f"/apis/{info.group}/{info.version}"
    item = (
        f"{base}/namespaces/{{namespace}}/{info.resource}/{{name}}"
        if info.namespaced
        else f"{base}/{info.resource}/{{name}}"
    )
    gvk = {"group": info.group, "version": info.version, "kind": info.kind}
    params = [{"name": p, "in": "query", "schema": {"type": "string"}} for p in _PATCH_PARAMS]
    patch = {
        "operationId": f"patch{info.kind}",
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": gvk,
        "parameters": params,
        "responses": {"200": {"description": "OK"}},
    }
    return {item: {"patch": patch}}


@functools.cache
def group_version_document(group: str, version: str) -> bytes:
    infos = resources.kinds_in(group, version)
    schemas: dict[str, Any] = {}
    todo: list[Any] = [i.message.DESCRIPTOR for i in infos]
    while todo:
        desc = todo.pop()
        if desc.full_name in schemas:
            continue
        schemas[desc.full_name] = _message(desc, todo)
    for info in infos:
        gvk = {"group": info.group, "version": info.version, "kind": info.kind}
        schemas[info.message.DESCRIPTOR.full_name]["x-kubernetes-group-version-kind"] = [gvk]
    paths: dict[str, Any] = {}
    for info in infos:
        paths.update(_paths(info))
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "Skiff", "version": f"v{resources.KUBE_VERSION[0]}.{resources.KUBE_VERSION[1]}.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


@functools.cache
def root_document() -> bytes:
    paths = {}
    for group, versions in resources.group_versions().items():
        for version in versions:
            digest = hashlib.sha512(group_version_document(group, version)).hexdigest()[:32].upper()
            path = _gv_path(group, version)
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return json.dumps({"paths": paths}, separators=(",", ":")).encode()


async def get_v3(request: web.Request) -> web.Response:
    return web.Response(body=root_document(), headers={"Content-Type": "application/json"})


async def get_v3_group_version(request: web.Request) -> web.Response:
    parts = request.match_info["tail"].strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        group, version = "", parts[1]
    elif len(parts) == 3 and parts[0] == "apis":
        group, version = parts[1], parts[2]
    else:
        raise web.HTTPNotFound()
    if version not in resources.group_versions().get(group, []):
        raise web.HTTPNotFound()
    headers = {"Content-Type": "application/json"}
    if "hash" in request.query:  # the hash names this exact document: cacheable for good, as Kubernetes says
        headers["Cache-Control"] = "public, immutable"
    return web.Response(body=group_version_document(group, version), headers=headers)
