"""Field paths of an object, as server-side apply names them (structured-merge-diff's fieldpath.Set),
and their FieldsV1 encoding in `metadata.managedFields`.

A path is a tuple of FieldsV1 elements: `f:<name>` (a struct field or a map key), `k:<json>` (an item of
a list keyed by its merge keys, e.g. `k:{"name":"c"}`), `v:<json>` (an item of a set of primitives, e.g.
finalizers) and `.` (the list item itself, so an item owned without any of its fields is still owned).
Lists are associative where Kubernetes' types say so (the merge keys strategic.py knows; container and
service ports keyed by port and protocol, protocol defaulting to TCP as the schema's default does);
every other list is atomic, one leaf, and so are LabelSelectors (`+structType=atomic`) and the scalar-like
messages (Quantity, IntOrString, Timestamp). Status is not part of the main resource's field set, nor is
the server-owned metadata (name, uid, resourceVersion...): only labels, annotations, finalizers and
ownerReferences of metadata are owned, as in Kubernetes.

`flatten` maps each path to its value (items map to a marker), so comparing two objects is comparing two
dicts: a changed path is one whose value differs.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor
from skiff_apiserver.rest import strategic

Path = tuple[str, ...]
ITEM = object()  # the value of a list item's "." path
_OWNED_META = ("labels", "annotations", "finalizers", "ownerReferences")
ATOMIC_STRUCTS = {"LabelSelector"}
_LIST_KEYS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Container", "ports"): ("containerPort", "protocol"),
    ("ServiceSpec", "ports"): ("port", "protocol"),
}
_KEY_DEFAULTS = {"protocol": "TCP"}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def list_keys(desc: Descriptor | None, name: str) -> tuple[bool, tuple[str, ...]]:
    """(associative?, key fields) of list field `name` of `desc`; () keys make a set of primitives."""
    merge, key = strategic.merge_key(desc, name)
    if not merge:
        return False, ()
    if desc is not None and (desc.name, name) in _LIST_KEYS:
        return True, _LIST_KEYS[(desc.name, name)]
    return True, (key,) if key else ()


def item_element(item: Any, keys: tuple[str, ...]) -> str:
    if not keys:
        return "v:" + _compact(item)
    found = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys} if isinstance(item, dict) else {}
    return "k:" + _compact({k: v for k, v in found.items() if v is not None})


def flatten(obj: dict[str, Any], desc: Descriptor, *, status: bool = False) -> dict[Path, Any]:
    """Every owned path of a (JSON) object and its value; `status` selects the status subresource's
    fields instead of the main resource's."""
    out: dict[Path, Any] = {}
    for key, value in obj.items():
        if value is None or key in ("apiVersion", "kind"):
            continue
        if key == "metadata":
            if not status and isinstance(value, dict):
                meta = strategic._child(strategic._field(desc, key))
                for name in _OWNED_META:
                    if value.get(name) is not None:
                        _walk(value[name], meta, name, ("f:metadata", "f:" + name), out)
            continue
        if (key == "status") == status:
            _walk(value, desc, key, ("f:" + key,), out)
    return out


def _walk(value: Any, owner: Descriptor | None, name: str, path: Path, out: dict[Path, Any]) -> None:
    field = strategic._field(owner, name)
    child = strategic._child(field)
    if isinstance(value, dict):
        is_map = field is not None and field.message_type is not None and field.message_type.GetOptions().map_entry
        opaque = field is not None and field.message_type is not None and field.message_type.name in ATOMIC_STRUCTS
        if not value or opaque or (field is not None and child is None and not is_map):
            out[path] = value
            return
        for k, v in value.items():
            if v is None:
                continue
            if is_map:
                if child is None or not isinstance(v, dict):
                    out[(*path, "f:" + k)] = v
                else:
                    _walk_struct(v, child, (*path, "f:" + k), out)
            else:
                _walk(v, child, k, (*path, "f:" + k), out)
        return
    if isinstance(value, list):
        associative, keys = list_keys(owner, name)
        if not associative or not value:
            out[path] = value
            return
        for item in value:
            item_path = (*path, item_element(item, keys))
            if not keys or not isinstance(item, dict):
                out[item_path] = ITEM
                continue
            out[(*item_path, ".")] = ITEM
            _walk_struct(item, child, item_path, out)
        return
    out[path] = value


def _walk_struct(value: dict[str, Any], desc: Descriptor | None, path: Path, out: dict[Path, Any]) -> None:
    if not value:
        out[path] = value
        return
    for k, v in value.items():
        if v is not None:
            _walk(v, desc, k, (*path, "f:" + k), out)


def to_fields_v1(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for element in path:
            node = node.setdefault(element, {})
    return tree


def from_fields_v1(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for element, sub in tree.items():
        path = (*prefix, element)
        if isinstance(sub, dict) and sub:
            out |= from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


def describe(path: Path) -> str:
    """A path as kubectl prints a conflict's field: `.spec.template.spec.containers[name="c"].image`."""
    text = ""
    for element in path:
        kind, _, rest = element.partition(":")
        if element == ".":
            continue
        if kind == "f":
            text += "." + rest
        elif kind == "k":
            keys = json.loads(rest)
            text += "[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]"
        elif kind == "v":
            text += f"[={rest}]"
    return text


def remove(obj: dict[str, Any], path: Path, desc: Descriptor) -> None:
    """Delete the value at `path` from the JSON object (nothing when absent); a list or map left empty
    is removed too. A list item goes only with its "." path: its key fields alone never do."""
    if len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:]):
        return
    _remove(obj, path, desc, "")


def _is_map(field: Any) -> bool:
    return field is not None and field.message_type is not None and bool(field.message_type.GetOptions().map_entry)


def _remove(node: Any, path: Path, owner: Descriptor | None, name: str) -> bool:
    """Remove `path` below `node`, the value of field `name` of message `owner` (name "" when `node` is
    itself an `owner` message); True when `node` is left empty."""
    element, rest = path[0], path[1:]
    field = strategic._field(owner, name) if name else None
    if isinstance(node, dict) and element.startswith("f:"):
        key = element[2:]
        if key not in node:
            return False
        struct = None if _is_map(field) else (strategic._child(field) if name else owner)
        if not rest or _remove(node[key], rest, struct, key):
            del node[key]
        return not node and _is_map(field)  # an emptied map goes; an emptied struct stays, as {}
    if isinstance(node, list) and element[:2] in ("k:", "v:"):
        _, keys = list_keys(owner, name)
        child = strategic._child(field)
        for i, item in enumerate(node):
            if item_element(item, keys) != element:
                continue
            if not rest or rest == (".",) or (isinstance(item, dict) and _remove(item, rest, child, "")):
                del node[i]
            break
        return not node
    return False
