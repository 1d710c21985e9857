"""Warnings for the client, collected while a request is served (Kubernetes' warning.AddWarning).

Admission adds them; the REST port sends each as a `Warning: 299 - "..."` header (kubectl prints
`Warning: ...`), the gRPC port as `warning` trailing metadata entries.
"""

from __future__ import annotations

import contextvars

_warnings: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("skiff_apiserver_warnings", default=None)


def start() -> None:
    _warnings.set([])


def add(text: str) -> None:
    found = _warnings.get()
    if found is not None and text not in found:
        found.append(text)


def take() -> list[str]:
    found = _warnings.get() or []
    _warnings.set([])
    return list(found)
