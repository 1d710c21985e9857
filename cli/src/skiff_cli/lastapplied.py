"""Client-side apply's memory: the manifest last applied, kept in an annotation as kubectl keeps it.

A JSON merge patch alone cannot delete: a field removed from the manifest would stay on the object.
Comparing the new manifest with the one applied last time tells the removals apart from fields that
other writers own (a pod's spec.nodeName, defaults, status), so only the former become `null` in the
patch. Lists are replaced whole, as merge patch does; Kubernetes' strategic merge patch would merge
some of them by key, which we do not have.
"""

from __future__ import annotations

import json
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def applied_form(manifest: dict[str, Any]) -> str:
    """What the annotation stores: the manifest without status and without the annotation itself."""
    body = {k: v for k, v in manifest.items() if k != "status"}
    meta = dict(body.get("metadata", {}))
    annotations = {k: v for k, v in meta.get("annotations", {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    body["metadata"] = meta
    return json.dumps(body, separators=(",", ":"), sort_keys=True) + "\n"


def last_applied(annotations: Any) -> dict[str, Any]:
    """The previously applied manifest, or {} when there is none or it is not ours to read."""
    try:
        value = json.loads(annotations.get(LAST_APPLIED, "") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def apply_patch(last: dict[str, Any], new: dict[str, Any], current: Any = None) -> dict[str, Any]:
    """The merge patch that states everything in `new` and deletes what `last` had and `new` dropped.
    Given the object as it is (`current`), what it already holds is left out, as kubectl's three-way
    patch does: an unchanged manifest gives an empty patch, which is not sent."""
    patch: dict[str, Any] = {}
    held = current if isinstance(current, dict) else {}
    for key, value in new.items():
        old = last.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            inner = apply_patch(old, value, held.get(key) if current is not None else None)
            if inner or current is None or not isinstance(held.get(key), dict):
                patch[key] = inner
        elif current is None or key not in held or not holds(held[key], value):
            patch[key] = value
    for key in last:
        if key not in new and (current is None or key in held):
            patch[key] = None
    return patch


def holds(current: Any, wanted: Any) -> bool:
    """Whether `current` already states everything in `wanted` (defaults and other writers' fields
    beside it do not count as a difference)."""
    if isinstance(wanted, dict):
        return isinstance(current, dict) and all(k in current and holds(current[k], v) for k, v in wanted.items())
    if isinstance(wanted, list):
        return (
            isinstance(current, list)
            and len(current) == len(wanted)
            and all(holds(c, w) for c, w in zip(current, wanted, strict=True))
        )
    return bool(current == wanted and type(current) is type(wanted))
