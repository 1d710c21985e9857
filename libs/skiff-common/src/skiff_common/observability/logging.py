"""Structured JSON logs: one line per event on stderr, the same shape for structlog and stdlib loggers.

Design:
* structlog is configured for stdlib integration and every stdlib record (grpc, aetcd, asyncio, ...)
  goes through the same `ProcessorFormatter`, so a log aggregator sees one JSON schema:
  timestamp, level, logger, event, service, trace_id, span_id, plus the event's own keys.
* trace_id/span_id come from the current OpenTelemetry span at the moment of logging, which is what
  ties a log line to a trace across components.
* Redaction runs last before rendering and walks nested dicts/lists: a value whose key looks like a
  secret (password, token, secret, key_data, authorization, credential; case-insensitive substring) is
  replaced by "<redacted>". Keys that name *where* a secret is rather than the secret itself
  (`secret_name`, `token_file`, `*_path`, `*_ref`) are kept, so logs stay useful. A dict that looks like
  a Secret object (`kind: Secret`) gets its `data`/`string_data` redacted too.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, cast

from opentelemetry import trace

# structlog imports `rich` at import time, when it is installed, only to offer pretty console tracebacks
# (structlog.dev); our logs are JSON with plain `format_exc_info` tracebacks and never use them. rich is
# in the environment only as a dev tool's dependency, yet importing it (with pygments and attrs) cost
# every process ~0.15 CPU-s at start. `rich` is hidden only while structlog is first imported, so other
# code can still import it afterwards.
_hide_rich = "rich" not in sys.modules and "structlog" not in sys.modules
if _hide_rich:
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
try:
    import structlog
finally:
    if _hide_rich:
        del sys.modules["rich"]

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"password|passwd|token|secret|key_data|authorization|credential", re.IGNORECASE)
_REFERENCE_KEY = re.compile(r"(name|names|file|path|ref|_at|_seconds)$", re.IGNORECASE)
_SECRET_DATA_KEYS = frozenset({"data", "string_data", "stringData"})

_service = "skiff"


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.search(key)) and not _REFERENCE_KEY.search(key)


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking keys masked (recursively)."""
    if isinstance(value, dict):
        secret_object = str(value.get("kind", "")) == "Secret"
        out: dict[Any, Any] = {}
        for k, v in value.items():
            key = str(k)
            if (is_secret_key(key) or (secret_object and key in _SECRET_DATA_KEYS)) and v not in (None, ""):
                out[k] = REDACTED
            else:
                out[k] = redact(v)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _redact_processor(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    return cast(MutableMapping[str, Any], redact(dict(event_dict)))


def _add_service(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event_dict.setdefault("service", _service)
    return event_dict


def _add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service,
        _add_trace_ids,
    ]


def setup_logging(service: str, level: str = "info", *, stream: Any = None) -> None:
    """Route structlog and stdlib logging to one JSON renderer on `stream` (stderr by default).

    Safe to call again (tests, re-configuration): the root handler is replaced, not duplicated.
    """
    global _service
    _service = service
    numeric = logging.getLevelNamesMapping().get(level.upper())
    if numeric is None:
        raise ValueError(f"log_level: unsupported value {level!r} (use debug, info, warning, error)")

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_processor,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
    )
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name("skiff-json")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "skiff-json"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # grpc's C core logs through absl, but its Python layer is chatty at DEBUG; keep it at INFO+.
    logging.getLogger("grpc").setLevel(max(numeric, logging.INFO))


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """A named structlog logger; usable at import time, before setup_observability runs."""
    return structlog.stdlib.get_logger(name)
