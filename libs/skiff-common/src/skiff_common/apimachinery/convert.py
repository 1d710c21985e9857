"""Kubernetes JSON/YAML <-> protobuf messages, strict, with field paths.

The conversion is generic: ``_codec`` walks protobuf descriptors (json_name, maps, repeated, presence)
and a handful of special messages, so there is no per-kind code. Decoding is strict like the apiserver's
strict field validation: unknown fields, type mismatches and out-of-range integers are all collected
and raised together as one ``errors.Invalid`` with one FieldError per problem, with Kubernetes paths
(``spec.template.spec.containers[0].imagePullPolcy``, ``metadata.labels[app]``). ``null`` means unset.

Output follows kubectl: ``to_dict``/``dump_json`` keep the struct (proto field) order with apiVersion,
kind and metadata first; ``dump_yaml`` sorts keys, which is what ``kubectl get -o yaml`` does because it
goes through a JSON map. A sequence dumps as ``kind: List``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, overload

import yaml
from google.protobuf.message import Message

from skiff_common import errors
from skiff_common.apimachinery import _yaml, kinds
from skiff_common.apimachinery._codec import data_type_meta, plan_for
from skiff_common.apimachinery._scalars import got
from skiff_common.errors import FieldError

M = TypeVar("M", bound=Message)
_GO_JSON_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}
_LIST_KINDS = frozenset({"List"} | {info.list_kind for info in kinds.ALL_KINDS})


@overload
def from_dict(data: Mapping[str, Any], message_type: type[M]) -> M: ...
@overload
def from_dict(data: Mapping[str, Any], message_type: None = None) -> Message: ...
def from_dict(data: Mapping[str, Any], message_type: type[Message] | None = None) -> Message:
    """Build a message from its Kubernetes JSON form; raise errors.Invalid listing every problem.

    Without ``message_type`` the type comes from apiVersion + kind. With it, a present apiVersion or
    kind must agree with the registry.
    """
    if not isinstance(data, Mapping):
        raise errors.Invalid(
            "object is invalid", [FieldError("<root>", "Invalid value", f"expected object, got {got(data)}")]
        )
    errs: list[FieldError] = []
    if message_type is None:
        meta = data_type_meta(data, "", errs)
        if meta is None:
            raise errors.Invalid("Object has an unknown type", errs)
        message_type = kinds.message_for(*meta)
    else:
        _check_type_meta(data, message_type, errs)
    msg = message_type()
    plan_for(message_type.DESCRIPTOR).decode_into(msg, data, "", errs)
    if errs:
        raise errors.Invalid(_summary(data, message_type), errs)
    return msg


def to_dict(obj: Message) -> dict[str, Any]:
    """The Kubernetes JSON form. A registered kind without apiVersion/kind gets them from the registry."""
    out: dict[str, Any] = plan_for(obj.DESCRIPTOR).encode(obj)
    meta = kinds.type_meta_of(obj)
    if meta is not None and not (out.get("apiVersion") and out.get("kind")):
        out = {"apiVersion": meta[0], "kind": meta[1]} | out
    return out


def load_manifests(text: str) -> list[Message]:
    """Every object in a multi-document YAML or JSON text, ``kind: List`` expanded.

    With more than one document, error paths start with ``documents[i].`` (0-based, empty documents
    not counted); items of a List with ``items[j].``. All errors of all documents are raised together.
    """
    documents = [doc for doc in _documents(text) if doc is not None]
    objects: list[Message] = []
    failures: list[errors.Invalid] = []
    problems: list[FieldError] = []
    for index, doc in enumerate(documents):
        prefix = f"documents[{index}]" if len(documents) > 1 else ""
        for path, item in _expand(doc, prefix, problems):
            try:
                objects.append(from_dict(item))
            except errors.Invalid as exc:
                failures.append(exc)
                problems.extend(FieldError(_join(path, e.path), e.reason, e.detail) for e in exc.errors)
    if problems:
        count = max(len(failures), 1)
        summary = failures[0].summary if len(failures) == 1 else f"{count} objects are invalid"
        raise errors.Invalid(summary, problems)
    return objects


def _documents(text: str) -> list[Any]:
    """A JSON text is decoded as JSON (like kubectl does; YAML's reader refuses some characters JSON
    allows), anything else as a YAML stream."""
    if text.lstrip().startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except ValueError:
            pass  # not one JSON value: let the YAML parser have it and report
    try:
        return _yaml.load_all(text)
    except yaml.YAMLError as exc:
        raise errors.Invalid(f"error parsing YAML: {_yaml_problem(exc)}") from None
    except ValueError:  # int() refuses literals of more than 4300 digits (CPython's DoS guard)
        raise errors.Invalid("error parsing YAML: a number has too many digits") from None


def dump_yaml(obj: Message | Sequence[Message]) -> str:
    """YAML like ``kubectl get -o yaml``; a sequence becomes a ``kind: List``."""
    return _yaml.dump(_document(obj))


def dump_json(obj: Message | Sequence[Message]) -> str:
    """JSON like ``kubectl get -o json``: 4-space indent, trailing newline, and Go's HTML-safe escapes
    (``<`` ``>`` ``&`` U+2028 U+2029 as ``\\uXXXX``; these characters can only occur inside strings)."""
    text = json.dumps(_document(obj), indent=4, ensure_ascii=False)
    return text.translate(_GO_JSON_ESCAPES) + "\n"


def _document(obj: Message | Sequence[Message]) -> dict[str, Any]:
    if isinstance(obj, Message):
        return to_dict(obj)
    return {"apiVersion": "v1", "items": [to_dict(o) for o in obj], "kind": "List", "metadata": {"resourceVersion": ""}}


def _expand(doc: Any, prefix: str, problems: list[FieldError]) -> list[tuple[str, Any]]:
    """(path, object) pairs of one document: itself, or the items of a List."""
    if not (isinstance(doc, Mapping) and doc.get("kind") in _LIST_KINDS):
        return [(prefix, doc)]
    for key in doc:
        if key not in ("apiVersion", "kind", "items", "metadata"):
            problems.append(FieldError(_join(prefix, str(key)), "unknown field"))
    items = doc.get("items") or []
    if not isinstance(items, list):
        detail = f"expected array, got {got(items)}"
        problems.append(FieldError(_join(prefix, "items"), "Invalid value", detail))
        return []
    item_kind = str(doc["kind"])[: -len("List")]
    out: list[tuple[str, Any]] = []
    for index, item in enumerate(items):
        if item_kind and isinstance(item, Mapping) and "kind" not in item:  # typed list: PodList
            info = next((i for i in kinds.ALL_KINDS if i.kind == item_kind), None)
            if info is not None:
                item = {"apiVersion": info.api_version, "kind": info.kind, **item}
        out.append((_join(prefix, f"items[{index}]"), item))
    return out


def _check_type_meta(data: Mapping[str, Any], message_type: type[Message], errs: list[FieldError]) -> None:
    expected = kinds.type_meta_of(message_type)
    if expected is None:
        return
    for key, want in zip(("apiVersion", "kind"), expected, strict=True):
        value = data.get(key)
        if isinstance(value, str) and value and value != want:
            errs.append(FieldError(key, "Invalid value", f'"{value}": must be "{want}"'))


def _summary(data: Mapping[str, Any], message_type: type[Message]) -> str:
    meta = kinds.type_meta_of(message_type)
    kind = meta[1] if meta else message_type.DESCRIPTOR.name
    metadata = data.get("metadata")
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    return f'{kind} "{name}" is invalid' if isinstance(name, str) and name else f"{kind} is invalid"


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path or path == "<root>":
        return prefix
    return f"{prefix}{path}" if path.startswith("[") else f"{prefix}.{path}"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


__all__ = ["dump_json", "dump_yaml", "from_dict", "load_manifests", "to_dict"]
