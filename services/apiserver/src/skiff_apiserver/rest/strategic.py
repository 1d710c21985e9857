"""Strategic merge patch (`application/strategic-merge-patch+json`), what `kubectl apply`, `label`,
`set image` and `rollout restart` send.

A JSON merge patch replaces lists whole; a strategic one merges the lists Kubernetes marks with
`patchStrategy: merge` item by item on their `patchMergeKey` (containers by name, ports by containerPort,
conditions by type...), unions the primitive ones (finalizers), and understands the directives `$patch:
replace|delete|merge`, `$retainKeys`, `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.

The patch metadata of Kubernetes' Go types is the table below, keyed by the protobuf message and JSON
field name; the walk follows the protobuf descriptors (our messages mirror the Kubernetes types, field for
field), so a nested field is found wherever the type appears (a pod template in a Deployment, a CronJob's
job template...). A `conditions` list in any *Status message merges by type, as every Kubernetes status
does. Anything not listed is replaced, which is Kubernetes' default too.
"""

from __future__ import annotations

import copy
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from skiff_common import errors

_MERGE: dict[tuple[str, str], str | None] = {
    ("PodSpec", "containers"): "name",
    ("PodSpec", "initContainers"): "name",
    ("PodSpec", "ephemeralContainers"): "name",
    ("PodSpec", "volumes"): "name",
    ("PodSpec", "imagePullSecrets"): "name",
    ("PodSpec", "hostAliases"): "ip",
    ("Container", "ports"): "containerPort",
    ("Container", "env"): "name",
    ("Container", "volumeMounts"): "mountPath",
    ("Container", "volumeDevices"): "devicePath",
    ("ObjectMeta", "finalizers"): None,
    ("ObjectMeta", "ownerReferences"): "uid",
    ("PodStatus", "podIPs"): "ip",
    ("PodStatus", "hostIPs"): "ip",
    ("NodeStatus", "addresses"): "type",
    ("NodeSpec", "podCIDRs"): None,
    ("ServiceSpec", "ports"): "port",
    ("EndpointSubset", "addresses"): "ip",
}
# Messages the JSON form shows as a scalar or free-form value: never walked into.
_OPAQUE = {"Quantity", "IntOrString", "Timestamp", "Any", "Duration", "Struct", "Value"}


def _field(desc: Descriptor | None, key: str) -> FieldDescriptor | None:
    if desc is None:
        return None
    for f in desc.fields:
        if f.json_name == key:
            return f
    return None


def _child(field: FieldDescriptor | None) -> Descriptor | None:
    """The message type a JSON value of this field holds (a map's value type for maps)."""
    if field is None or field.message_type is None:
        return None
    msg = field.message_type
    if msg.GetOptions().map_entry:
        value = msg.fields_by_name["value"]
        return value.message_type if value.message_type is not None else None
    return None if msg.name in _OPAQUE else msg


def merge_key(desc: Descriptor | None, key: str) -> tuple[bool, str | None]:
    """(merge?, merge key) of the list field `key` of `desc`."""
    if desc is None:
        return False, None
    if (desc.name, key) in _MERGE:
        return True, _MERGE[(desc.name, key)]
    if key == "conditions" and desc.name.endswith("Status"):
        return True, "type"
    return False, None


def apply(original: dict[str, Any], patch: Any, desc: Descriptor | None) -> dict[str, Any]:
    if not isinstance(patch, dict):
        raise errors.BadRequest("a strategic merge patch must be a JSON object")
    result = _merge_map(copy.deepcopy(original), patch, desc)
    if result is None:
        raise errors.BadRequest("a strategic merge patch may not delete the whole object")
    return result


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], desc: Descriptor | None) -> dict[str, Any] | None:
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return _strip(patch)
    if directive not in (None, "merge"):
        raise errors.BadRequest(f'unknown patch directive "$patch: {directive}"')
    result = dict(orig)
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.partition("/")[2]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [x for x in result[name] if x not in value]
            continue
        if value is None:
            result.pop(key, None)
            continue
        field = _field(desc, key)
        child = _child(field)
        if isinstance(value, dict):
            if field is not None and field.message_type is not None and field.message_type.name in _OPAQUE:
                result[key] = _strip(value)
                continue
            current = result.get(key)
            merged = _merge_map(current if isinstance(current, dict) else {}, value, child)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            merge, list_key = merge_key(desc, key)
            current = result.get(key)
            if merge and isinstance(current, list):
                result[key] = _merge_list(current, value, list_key, child)
            else:
                result[key] = [_strip(v) if isinstance(v, dict) else v for v in value if not _is_directive(v)]
        else:
            result[key] = value
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _is_directive(item: Any) -> bool:
    return isinstance(item, dict) and set(item) <= {"$patch"} and bool(item)


def _merge_list(orig: list[Any], patch: list[Any], merge_key: str | None, child: Descriptor | None) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return [_strip(p) if isinstance(p, dict) else p for p in patch if not _is_directive(p)]
    items = list(orig)
    for p in patch:
        if merge_key is None or not isinstance(p, dict):
            if p not in items:
                items.append(p)
            continue
        if merge_key not in p:
            raise errors.BadRequest(f'a strategic merge patch list item must carry its merge key "{merge_key}"')
        index = next(
            (i for i, it in enumerate(items) if isinstance(it, dict) and it.get(merge_key) == p[merge_key]), None
        )
        if p.get("$patch") == "delete":
            if index is not None:
                del items[index]
            continue
        merged = _merge_map(items[index] if index is not None else {}, p, child)
        if merged is None:
            continue
        if index is None:
            items.append(merged)
        else:
            items[index] = merged
    return items


def _strip(value: dict[str, Any]) -> dict[str, Any]:
    """A patch value stored as is, without its directives."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        if k.startswith("$"):
            continue
        out[k] = _strip(v) if isinstance(v, dict) else v
    return out
