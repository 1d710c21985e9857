"""Typed accessors for config.json objects: every failure names the field (``process.user.uid``).

Also ``env_dict``, the one place that turns an OCI ``KEY=value`` list into a mapping.
"""

from __future__ import annotations

from typing import Any

from skiff_runtime.oci.errors import InvalidBundle


def env_dict(env: list[str] | tuple[str, ...]) -> dict[str, str]:
    """["A=1", "B"] -> {"A": "1", "B": ""}; later entries win (exec_sync appends its overrides)."""
    out: dict[str, str] = {}
    for item in env:
        key, _, value = item.partition("=")
        out[key] = value
    return out


def get(obj: dict[str, Any], key: str, path: str, kind: type | tuple[type, ...], default: Any = None) -> Any:
    value = obj.get(key, default)
    if value is default:
        return value
    # bool is an int subclass; reject it where a number is wanted.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise InvalidBundle(f"{path}.{key}" if path else key, f"must be of type {names}")
    return value


def uint(obj: dict[str, Any], key: str, path: str, default: int | None = None) -> int | None:
    value: int | None = get(obj, key, path, int, default)
    if value is not None and value < 0:
        raise InvalidBundle(f"{path}.{key}", "must be a non-negative integer")
    return value


def strings(obj: dict[str, Any], key: str, path: str) -> tuple[str, ...]:
    items = get(obj, key, path, list, None) or []
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise InvalidBundle(f"{path}.{key}[{i}]", "must be a string")
    return tuple(items)
