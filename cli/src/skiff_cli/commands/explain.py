"""`skiff explain TYPE[.FIELD...]`: a kind's or a field's documentation, from the server's OpenAPI v3
(the same schemas kubectl explain reads), laid out as kubectl's plaintext template."""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from ..kube.errors import CliError
from ..kube.session import Session


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("explain", help="document a resource type or one of its fields")
    p.add_argument("path", help="TYPE or TYPE.FIELD.FIELD")
    p.add_argument("--recursive", action="store_true", help="list every field, nested")
    p.add_argument("--api-version", default="")
    p.set_defaults(run=run)


def _type(schema: dict[str, Any], schemas: dict[str, Any]) -> str:
    schema = _resolve(schema, schemas)
    kind = schema.get("type", "")
    if kind == "array":
        return f"[]{_type(schema.get('items') or {}, schemas)}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map[string]{_type(schema['additionalProperties'] or {}, schemas)}"
    if not kind and schema.get("properties"):
        return "Object"
    return kind or "Object"


def _resolve(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    merged = dict(schema)
    refs = [schema.get("$ref")] + [a.get("$ref") for a in schema.get("allOf") or []]
    for ref in refs:
        if ref:
            target = schemas.get(ref.rsplit("/", 1)[-1], {})
            merged = {**target, **{k: v for k, v in merged.items() if k not in ("$ref", "allOf")}}
    return merged


def _wrap(text: str, indent: str) -> str:
    out = []
    for para in (text or "<empty>").split("\n"):
        out.append(textwrap.fill(para, width=80, initial_indent=indent, subsequent_indent=indent) or indent.rstrip())
    return "\n".join(out)


def _fields(schema: dict[str, Any], schemas: dict[str, Any], recursive: bool, level: int = 1) -> list[str]:
    lines = []
    required = set(schema.get("required") or [])
    for name in sorted(schema.get("properties") or {}):
        field = schema["properties"][name]
        req = " -required-" if name in required else ""
        lines.append(f"{'  ' * level}{name}\t<{_type(field, schemas)}>{req}")
        if recursive:
            inner = _resolve(field, schemas)
            if inner.get("type") == "array":
                inner = _resolve(inner.get("items") or {}, schemas)
            lines += _fields(inner, schemas, True, level + 1)
        else:
            lines.append(_wrap(_resolve(field, schemas).get("description", ""), "  " * (level + 1)))
            lines.append("")
    return lines


def run(args: argparse.Namespace) -> int:
    s = Session(args)
    kind_word, *fields = args.path.split(".")
    res = s.mapper.lookup(kind_word)
    gv = f"apis/{res.group}/{res.version}" if res.group else f"api/{res.version}"
    index = s.rest.get("/openapi/v3").get("paths") or {}
    if gv not in index:
        raise CliError(f'error: couldn\'t find resource for "{res.qualified}"')
    url = index[gv].get("serverRelativeURL") or f"/openapi/v3/{gv}"
    schemas = (s.rest.get(url).get("components") or {}).get("schemas") or {}
    schema = next(
        (
            sch
            for sch in schemas.values()
            if any(
                g.get("kind") == res.kind and g.get("group", "") == res.group and g.get("version") == res.version
                for g in sch.get("x-kubernetes-group-version-kind") or []
            )
        ),
        None,
    )
    if schema is None:
        raise CliError(f'error: couldn\'t find resource for "{res.qualified}"')
    out = []
    if res.group:
        out.append(f"GROUP:      {res.group}")
    out += [f"KIND:       {res.kind}", f"VERSION:    {res.version}", ""]
    current, field_type = schema, ""
    for name in fields:
        current = _resolve(current, schemas)
        if current.get("type") == "array":
            current = _resolve(current.get("items") or {}, schemas)
        props = current.get("properties") or {}
        if name not in props:
            raise CliError(f'error: field "{name}" does not exist')
        field_type = _type(props[name], schemas)
        current = props[name]
    current = _resolve(current, schemas)
    if fields:
        out += [f"FIELD: {fields[-1]} <{field_type}>", "", ""]
    out += ["DESCRIPTION:", _wrap(current.get("description", ""), "    "), "    "]
    inner = _resolve(current.get("items") or {}, schemas) if current.get("type") == "array" else current
    if inner.get("properties"):
        out += ["FIELDS:", *_fields(inner, schemas, args.recursive)]
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n\n")
    return 0
