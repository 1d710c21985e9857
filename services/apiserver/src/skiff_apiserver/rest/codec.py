"""Request bodies in, objects out: Kubernetes JSON <-> the protobuf messages the registry works on.

The conversion itself is skiff_common's (`convert`, strict, with field paths). What this module adds is
the REST side of it:

* `fieldValidation` (Strict, the default kubectl asks for; Warn; Ignore). The strict decoder reports every
  unknown field with its path; Strict turns them into Kubernetes' BadRequest (`strict decoding error:
  unknown field "spec.foo"`), Warn and Ignore drop those fields and decode again, Warn also returning them
  for `Warning` headers. A type mismatch is a BadRequest in every mode, as in Kubernetes.
* Lists: `PodList` with `metadata.resourceVersion` / `continue`; items are encoded without type meta,
  like Kubernetes does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import yaml
from google.protobuf.message import Message
from skiff_apiserver.machinery import KindInfo, convert
from skiff_apiserver.registry import bounds
from skiff_apiserver.rest import k8sproto
from skiff_common import errors
from skiff_common.apimachinery._codec import plan_for

MODES = ("Strict", "Warn", "Ignore")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")


def parse_body(raw: bytes, content_type: str) -> Any:
    """The request body as JSON data; YAML is accepted too (apply-patch+yaml, hand-made requests)."""
    if "protobuf" in content_type:  # kubectl >= 1.31's typed clients (create <generator>, drain)
        return k8sproto.decode(raw)
    if not raw.strip():
        raise errors.BadRequest("the request body is empty")
    try:
        if "yaml" in content_type:
            return bounds.check_depth(yaml.safe_load(raw), "the request body")
        return bounds.loads(raw, "the request body")
    except (ValueError, yaml.YAMLError) as exc:
        what = "YAML" if "yaml" in content_type else "JSON"
        raise errors.BadRequest(f"the request body is not valid {what}: {exc}") from None


def field_validation(value: str) -> str:
    if not value:
        return "Strict"
    if value not in MODES:
        raise errors.BadRequest(f'fieldValidation: unsupported value "{value}": supported values: {", ".join(MODES)}')
    return value


def decode(data: Any, info: KindInfo, mode: str = "Strict") -> tuple[Message, list[str]]:
    """The object from its JSON data; returns (object, warnings)."""
    try:
        return convert.from_dict(data, info.message), []
    except errors.Invalid as exc:
        unknown = [e for e in exc.errors if e.reason == "unknown field"]
        others = [e for e in exc.errors if e.reason != "unknown field"]
        if isinstance(data, k8sproto.ProtobufBody) and not others:
            zeros = [e for e in unknown if _value_at(data, e.path) in (0, "", False, None, [], {})]
            for e in zeros:
                _drop(data, e.path)
            unknown = [e for e in unknown if e not in zeros]
            if not unknown:
                return decode(dict(data), info, mode)
        head = f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}'
        if others:
            raise errors.BadRequest(f"{head}: {'; '.join(str(e) for e in others)}") from None
        fields = [f'unknown field "{e.path}"' for e in unknown]
        if mode == "Strict":
            raise errors.BadRequest(f"{head}: strict decoding error: {', '.join(fields)}") from None
        for e in unknown:
            _drop(data, e.path)
        obj = convert.from_dict(data, info.message)
        return obj, (fields if mode == "Warn" else [])


def _parts(path: str) -> list[str | int]:
    return [name if name else (int(index) if index.isdigit() else index) for name, index in _SEGMENT.findall(path)]


def _value_at(data: Any, path: str) -> Any:
    node = data
    for part in _parts(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _drop(data: Any, path: str) -> None:
    """Remove the field at a Kubernetes field path (`spec.containers[0].foo`, `metadata.labels[a.b/c]`)."""
    parts = _parts(path)
    node = data
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(parts[-1], None)


# Fields Kubernetes always writes (no `omitempty` in its Go types) that proto3 leaves out when zero; typed
# clients (the Python client's models) reject a Scale without status.replicas.
_ALWAYS: dict[str, tuple[tuple[str, str, Any], ...]] = {"Scale": (("status", "replicas", 0),)}


def encode(obj: Message) -> dict[str, Any]:
    out = convert.to_dict(obj)
    for parent, key, zero in _ALWAYS.get(obj.DESCRIPTOR.name, ()):
        out.setdefault(parent, {}).setdefault(key, zero)
    return out


def encode_item(obj: Message) -> dict[str, Any]:
    """An item of a list: no apiVersion/kind, as Kubernetes writes list items."""
    out: dict[str, Any] = plan_for(obj.DESCRIPTOR).encode(obj)
    return out


def list_meta(resource_version: str, continue_token: str = "", remaining: int | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"resourceVersion": resource_version}
    if continue_token:
        meta["continue"] = continue_token
    if remaining is not None:
        meta["remainingItemCount"] = remaining
    return meta


def encode_list(info: KindInfo, items: list[Message], resource_version: str, continue_token: str) -> dict[str, Any]:
    return {
        "kind": info.list_kind,
        "apiVersion": info.api_version,
        "metadata": list_meta(resource_version, continue_token),
        "items": [encode_item(o) for o in items],
    }


def _item_bytes(obj: Message) -> bytes:
    return json.dumps(encode_item(obj), separators=(",", ":"), ensure_ascii=False).encode()


class VersionedBytes:
    """Bytes made from an object, kept by (type, uid, resourceVersion), which name one version of one
    object for good: the next list of objects that did not change costs a dictionary lookup per item
    instead of a walk over the message (the expensive part of encoding in Python). Bounded, oldest first
    out; objects without uid or resourceVersion are encoded but not kept. Kubernetes' watch cache keeps
    serialized objects for the same reason."""

    def __init__(self, encode: Callable[[Message], bytes], size: int = 20000) -> None:
        self.encode = encode
        self.size = size
        self._kept: dict[tuple[str, str, str], bytes] = {}

    def get(self, obj: Message) -> bytes:
        m = obj.metadata  # type: ignore[attr-defined]
        key = (obj.DESCRIPTOR.full_name, m.uid, m.resource_version)
        data = self._kept.get(key)
        if data is None:
            data = self.encode(obj)
            if m.uid and m.resource_version:
                if len(self._kept) >= self.size:
                    del self._kept[next(iter(self._kept))]
                self._kept[key] = data
        return data


class ItemCache(VersionedBytes):
    """JSON bytes of list items, and whole JSON lists made of them."""

    def __init__(self, size: int = 20000) -> None:
        super().__init__(_item_bytes, size)

    def list_body(self, info: KindInfo, items: list[Message], resource_version: str, continue_token: str) -> bytes:
        head = {"kind": info.list_kind, "apiVersion": info.api_version}
        head["metadata"] = list_meta(resource_version, continue_token)  # type: ignore[assignment]
        prefix = json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()[:-1]
        return b"".join((prefix, b',"items":[', b",".join(self.get(o) for o in items), b"]}"))
