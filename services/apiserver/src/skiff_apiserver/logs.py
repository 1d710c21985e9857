"""The package logger (structlog via skiff_common when available, stdlib otherwise)."""

from __future__ import annotations

from typing import Any

try:
    from skiff_common.observability import get_logger

    log: Any = get_logger("skiff_apiserver")
except ImportError:  # pragma: no cover - before skiff_common.observability lands
    import structlog

    log = structlog.get_logger("skiff_apiserver")
