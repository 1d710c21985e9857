"""/openapi/v2: the schemas of every served kind as one Swagger 2.0 document, in JSON or in the protobuf
encoding client-go asks for (gnostic's `openapi.v2.Document`, `Accept:
application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).

kubectl reads it for `explain --output=plaintext-openapiv2`, for client-side validation and, before
1.30 or when v3 is missing, for the patch strategies `kubectl apply` computes its patch with. The
schemas are openapi.py's (generated from the protobuf descriptors, one per message), rewritten the way
Swagger 2.0 says them: `$ref`s to `#/definitions/`, IntOrString as `type: string, format:
int-or-string` (Kubernetes' own spelling), and vendor extensions as gnostic's NamedAny with a YAML value.

The protobuf side needs only a few of gnostic's messages; rather than vendoring its .proto, they are
declared here as a descriptor table (names and field numbers as in gnostic's OpenAPIv2.proto) in a
private descriptor pool, and encoded by the protobuf runtime.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import yaml
from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message
from skiff_apiserver.rest import openapi, resources

# What the response says (Go's mime parser refuses the "@" of the Accept form, so Kubernetes answers so).
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
_V3_REF = "#/components/schemas/"

# gnostic openapi.v2 messages: name -> [(field, number, type)]; "T*" is repeated T.
_GNOSTIC: dict[str, list[tuple[str, int, str]]] = {
    "Document": [
        ("swagger", 1, "string"), ("info", 2, "Info"), ("paths", 8, "Paths"), ("definitions", 9, "Definitions"),
    ],
    "Info": [("title", 1, "string"), ("version", 2, "string")],
    "Paths": [("vendor_extension", 1, "NamedAny*")],
    "Definitions": [("additional_properties", 1, "NamedSchema*")],
    "Properties": [("additional_properties", 1, "NamedSchema*")],
    "NamedSchema": [("name", 1, "string"), ("value", 2, "Schema")],
    "Schema": [
        ("_ref", 1, "string"), ("format", 2, "string"), ("description", 4, "string"),
        ("additional_properties", 21, "AdditionalPropertiesItem"), ("type", 22, "TypeItem"),
        ("items", 23, "ItemsItem"), ("properties", 25, "Properties"), ("vendor_extension", 31, "NamedAny*"),
    ],
    "TypeItem": [("value", 1, "string*")],
    "ItemsItem": [("schema", 1, "Schema*")],
    "AdditionalPropertiesItem": [("schema", 1, "Schema"), ("boolean", 2, "bool")],
    "NamedAny": [("name", 1, "string"), ("value", 2, "Any")],
    "Any": [("yaml", 2, "string")],
}  # fmt: skip
_F = descriptor_pb2.FieldDescriptorProto


@functools.cache
def _classes() -> dict[str, type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(name="skiff_gnostic_openapi_v2.proto", package="openapi.v2")
    file.syntax = "proto3"
    for name, fields in _GNOSTIC.items():
        msg = file.message_type.add(name=name)
        for field, number, kind in fields:
            base = kind.rstrip("*")
            f = msg.field.add(name=field, number=number, json_name=field)
            f.label = _F.LABEL_REPEATED if kind.endswith("*") else _F.LABEL_OPTIONAL
            if base == "string":
                f.type = _F.TYPE_STRING
            elif base == "bool":
                f.type = _F.TYPE_BOOL
            else:
                f.type, f.type_name = _F.TYPE_MESSAGE, f".openapi.v2.{base}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"openapi.v2.{n}")) for n in _GNOSTIC}


def _v2_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """An openapi.py (v3) schema in Swagger 2.0 terms."""
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = "#/definitions/" + value.removeprefix(_V3_REF)
        elif key == "anyOf":  # IntOrString, as Kubernetes' v2 spells it
            out["type"], out["format"] = "string", "int-or-string"
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _v2_schema(value)
        elif key == "properties":
            out[key] = {name: _v2_schema(sub) for name, sub in value.items()}
        else:
            out[key] = value
    return out


@functools.cache
def document() -> dict[str, Any]:
    definitions: dict[str, Any] = {}
    for group, versions in resources.group_versions().items():
        for version in versions:
            doc = json.loads(openapi.group_version_document(group, version))
            for name, schema in doc["components"]["schemas"].items():
                definitions[name] = _v2_schema(schema)
    version = f"v{resources.KUBE_VERSION[0]}.{resources.KUBE_VERSION[1]}.0"
    return {"swagger": "2.0", "info": {"title": "Skiff", "version": version}, "paths": {}, "definitions": definitions}


def _schema_pb(schema: dict[str, Any]) -> Message:
    c = _classes()
    out = c["Schema"]()
    for key, value in schema.items():
        if key == "$ref":
            out._ref = value  # type: ignore[attr-defined]
        elif key in ("format", "description"):
            setattr(out, key, value)
        elif key == "type":
            out.type.value.append(value)  # type: ignore[attr-defined]
        elif key == "items":
            out.items.schema.append(_schema_pb(value))  # type: ignore[attr-defined]
        elif key == "additionalProperties":
            out.additional_properties.schema.CopyFrom(_schema_pb(value))  # type: ignore[attr-defined]
        elif key == "properties":
            for name, sub in value.items():
                out.properties.additional_properties.add(name=name, value=_schema_pb(sub))  # type: ignore[attr-defined]
        elif key.startswith("x-"):
            any_value = c["Any"](yaml=yaml.safe_dump(value, default_flow_style=False))
            out.vendor_extension.add(name=key, value=any_value)  # type: ignore[attr-defined]
    return out


@functools.cache
def protobuf_document() -> bytes:
    doc = document()
    out = _classes()["Document"](swagger="2.0")
    out.info.title, out.info.version = doc["info"]["title"], doc["info"]["version"]  # type: ignore[attr-defined]
    out.paths.SetInParent()  # type: ignore[attr-defined]
    for name, schema in sorted(doc["definitions"].items()):
        out.definitions.additional_properties.add(name=name, value=_schema_pb(schema))  # type: ignore[attr-defined]
    return out.SerializeToString()


async def get_v2(request: web.Request) -> web.Response:
    if "protobuf" in request.headers.get("Accept", ""):
        return web.Response(body=protobuf_document(), headers={"Content-Type": PROTOBUF})
    body = json.dumps(document(), separators=(",", ":")).encode()
    return web.Response(body=body, headers={"Content-Type": "application/json"})
