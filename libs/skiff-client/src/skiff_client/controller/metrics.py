"""client-go's workqueue metrics (``workqueue_*``, labelled ``name``) and controller-runtime's reconcile
counters, for every WorkLoop in the process.

Why client-go's names: dashboards and alerts written for Kubernetes controllers (queue depth, retries,
time waiting in the queue) then work unchanged on Skiff. The queue calls the hooks below; nothing here
knows about controllers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable

from prometheus_client import Counter, Gauge, Histogram

# client-go: prometheus.ExponentialBuckets(10e-9, 10, 12) -- 10 ns .. 1000 s.
_BUCKETS = tuple(10e-9 * 10**i for i in range(12))

DEPTH = Gauge("workqueue_depth", "Current depth of workqueue", ["name"])
ADDS = Counter("workqueue_adds_total", "Total number of adds handled by workqueue", ["name"])
RETRIES = Counter("workqueue_retries_total", "Total number of retries handled by workqueue", ["name"])
QUEUE_SECONDS = Histogram(
    "workqueue_queue_duration_seconds",
    "How long in seconds an item stays in workqueue before being requested",
    ["name"],
    buckets=_BUCKETS,
)
WORK_SECONDS = Histogram(
    "workqueue_work_duration_seconds",
    "How long in seconds processing an item from workqueue takes",
    ["name"],
    buckets=_BUCKETS,
)
UNFINISHED = Gauge(
    "workqueue_unfinished_work_seconds",
    "How many seconds of work has been done that is in progress and hasn't been observed by "
    "work_duration. Large values indicate stuck threads.",
    ["name"],
)
LONGEST = Gauge(
    "workqueue_longest_running_processor_seconds",
    "How many seconds has the longest running processor for workqueue been running.",
    ["name"],
)
RECONCILES = Counter(
    "controller_runtime_reconcile_total",
    "Total number of reconciliations per controller",
    ["controller", "result"],
)
RECONCILE_ERRORS = Counter(
    "controller_runtime_reconcile_errors_total", "Total number of reconciliation errors per controller", ["controller"]
)


class QueueMetrics:
    """The hooks a RateLimitingQueue calls; one instance per queue name."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._clock = clock
        self._added: dict[Hashable, float] = {}
        self._processing: dict[Hashable, float] = {}
        self._depth = DEPTH.labels(name)
        self._adds = ADDS.labels(name)
        self._retries = RETRIES.labels(name)
        self._queue_seconds = QUEUE_SECONDS.labels(name)
        self._work_seconds = WORK_SECONDS.labels(name)
        UNFINISHED.labels(name).set_function(self.unfinished_work_seconds)
        LONGEST.labels(name).set_function(self.longest_running_seconds)

    def add(self, key: Hashable) -> None:
        self._adds.inc()
        self._depth.inc()
        self._added.setdefault(key, self._clock())

    def get(self, key: Hashable) -> None:
        self._depth.dec()
        now = self._clock()
        started = self._added.pop(key, None)
        if started is not None:
            self._queue_seconds.observe(now - started)
        self._processing[key] = now

    def done(self, key: Hashable) -> None:
        started = self._processing.pop(key, None)
        if started is not None:
            self._work_seconds.observe(self._clock() - started)

    def retry(self) -> None:
        self._retries.inc()

    def shutdown(self) -> None:
        self._depth.set(0)
        self._added.clear()

    def unfinished_work_seconds(self) -> float:
        now = self._clock()
        return sum(now - t for t in self._processing.values())

    def longest_running_seconds(self) -> float:
        now = self._clock()
        return max((now - t for t in self._processing.values()), default=0.0)
