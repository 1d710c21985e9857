"""Runtime metrics, computed from the stores at scrape time (a custom collector: no counters to keep in
sync with state, and the numbers are exactly what ListPodSandbox / ListContainers / ListImages say).

gRPC call counts and latencies come from skiff_common's server interceptor.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from skiff_runtime.runtime import Runtime


class RuntimeCollector(Collector):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        sandboxes = GaugeMetricFamily("skiff_runtime_pod_sandboxes", "Pod sandboxes by state.", labels=["state"])
        for state, count in sorted(Counter(s.state for s in self.runtime.sandboxes.store.list()).items()):
            sandboxes.add_metric([state], count)
        yield sandboxes
        containers = GaugeMetricFamily("skiff_runtime_containers", "Containers by last known state.", labels=["state"])
        for state, count in sorted(Counter(c.state for c in self.runtime.containers.store.list()).items()):
            containers.add_metric([state], count)
        yield containers
        yield GaugeMetricFamily("skiff_runtime_images", "Images in the store.", value=len(self.runtime.images.list()))
        yield GaugeMetricFamily(
            "skiff_runtime_layer_snapshots",
            "Unpacked layer snapshots.",
            value=len(self.runtime.snapshots.layer_ids()),
        )
