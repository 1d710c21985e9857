"""Logs, metrics and traces for every Skiff process, set up by one call at start-up."""

from __future__ import annotations

from collections.abc import Mapping

from skiff_common.observability import health
from skiff_common.observability.build_info import register_build_info
from skiff_common.observability.logging import get_logger, redact, setup_logging
from skiff_common.observability.metrics import start_metrics_server
from skiff_common.observability.tracing import get_tracer, setup_tracing


def setup_observability(
    service: str,
    *,
    log_level: str = "info",
    metrics_address: str | None = None,
    attributes: Mapping[str, str] | None = None,
) -> None:
    """JSON logs to stderr, a TracerProvider for `service`, `skiff_<service>_build_info`, and /metrics
    with the health endpoints on `metrics_address` if given."""
    setup_tracing(service, attributes)
    setup_logging(service, log_level)
    register_build_info(service)
    if metrics_address:
        start_metrics_server(metrics_address)


__all__ = [
    "get_logger",
    "get_tracer",
    "health",
    "redact",
    "setup_logging",
    "setup_observability",
    "setup_tracing",
    "start_metrics_server",
]
