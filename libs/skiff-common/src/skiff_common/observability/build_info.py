"""`skiff_<service>_build_info`: a constant 1 labelled with the running version, as Kubernetes'
`kubernetes_build_info` (dashboards join on it).

The version comes from the installed distribution's metadata, and `importlib.metadata` (with the email,
csv and zipfile modules it imports, and its scan of every installed distribution) cost each process
~30-60 ms CPU at start for a label nobody may ever read. So the metric is a collector that looks the
version up on the first scrape and keeps it; what a scraper sees is unchanged.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from platform import python_version

from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

_registered: set[str] = set()
_lock = threading.Lock()


def metric_name(service: str) -> str:
    return f"skiff_{service.replace('-', '_')}_build_info"


def register_build_info(service: str) -> None:
    """Register the metric for `service` once per process (set-up may run twice: tests, the apiserver's
    two entry points)."""
    with _lock:
        if service in _registered:
            return
        REGISTRY.register(BuildInfo(service))
        _registered.add(service)


def installed_version(service: str) -> str:
    from importlib import metadata  # imported at the first scrape, not at start-up (see above)

    try:
        return metadata.version(f"skiff-{service}")
    except metadata.PackageNotFoundError:
        return metadata.version("skiff-common")


class BuildInfo(Collector):
    def __init__(self, service: str) -> None:
        self.service = service
        self.name = metric_name(service)
        self._version: str | None = None

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(
            self.name,
            f"A metric with a constant '1' value labeled by the version of skiff-{self.service}.",
            labels=["version", "python_version"],
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        yield self._family()  # names only: registering must not look the version up

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if self._version is None:
            self._version = installed_version(self.service)
        family = self._family()
        family.add_metric([self._version, python_version()], 1)
        yield family
