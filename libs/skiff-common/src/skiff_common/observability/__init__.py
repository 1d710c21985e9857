"""Logs, metrics and traces for every Skiff process, set up by one call at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from platform import python_version

from prometheus_client import Gauge

from skiff_common.observability import health
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
    _build_info(service)
    if metrics_address:
        start_metrics_server(metrics_address)


_BUILD_INFO: dict[str, Gauge] = {}


def _build_info(service: str) -> None:
    """A constant 1 labelled with what is running, as `kubernetes_build_info` (dashboards join on it)."""
    try:
        version = metadata.version(f"skiff-{service}")
    except metadata.PackageNotFoundError:
        version = metadata.version("skiff-common")
    name = f"skiff_{service.replace('-', '_')}_build_info"
    if name in _BUILD_INFO:  # set up twice in one process (tests, the apiserver's two entry points)
        return
    info = _BUILD_INFO[name] = Gauge(
        name,
        f"A metric with a constant '1' value labeled by the version of skiff-{service}.",
        ["version", "python_version"],
    )
    info.labels(version, python_version()).set(1)


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
