"""Bounds on what a client may send, so one request cannot hurt the server or every other client:

* JSON nesting: a patch or body nested 100,000 levels deep made Python's recursive decoders and patch
  appliers overflow (INTERNAL RecursionError). Bodies are parsed, then measured without recursion, and
  anything deeper than MAX_DEPTH is refused (BadRequest) before a recursive step sees it; a RecursionError
  from the parser itself is reported the same way. No Kubernetes object comes near the limit.
* Selector length: parsing an 800 KB label selector held the event loop for over a second. Selectors
  longer than MAX_SELECTOR bytes are refused.
* resourceVersion: must be a non-negative integer (`abc`, `-1` are refused as Kubernetes refuses them).
"""

from __future__ import annotations

import json
from typing import Any

from skiff_common import errors

MAX_DEPTH = 200
MAX_SELECTOR = 16 * 1024


def depth(value: Any) -> int:
    """Nesting depth of decoded JSON, iteratively."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, dict):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v.values())
        elif isinstance(v, list):
            deepest = max(deepest, d)
            stack.extend((x, d + 1) for x in v)
    return deepest


def check_depth(value: Any, what: str) -> Any:
    if depth(value) > MAX_DEPTH:
        raise errors.BadRequest(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)")
    return value


def loads(raw: bytes | str, what: str) -> Any:
    """json.loads with the nesting bound; ValueError for malformed JSON, as json.loads."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise errors.BadRequest(f"{what} is nested too deeply (more than {MAX_DEPTH} levels)") from None
    return check_depth(value, what)


def check_selector(text: str, name: str) -> None:
    if len(text) > MAX_SELECTOR:
        raise errors.BadRequest(f"{name}: too long ({len(text)} bytes; at most {MAX_SELECTOR})")


def resource_version(value: str) -> int | None:
    """None for "" (latest), else the non-negative integer a resourceVersion must be."""
    if value == "":
        return None
    if not value.isdigit():
        raise errors.BadRequest(f'resourceVersion: Invalid value: "{value}": must be a non-negative integer')
    return int(value)
