"""Prometheus metrics of the apiserver (registered once, on import).

The generic gRPC interceptor of skiff_common counts calls per method; these add what only the apiserver
knows: the resource of each request, etcd latency, registered watchers and object counts.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from skiff_common.observability.metrics import LabelCache

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

REQUESTS = Counter(
    "skiff_apiserver_requests_total",
    "API requests by verb, resource and gRPC code",
    ["verb", "resource", "code"],
)
LATENCY = Histogram(
    "skiff_apiserver_request_duration_seconds",
    "API request latency (watches excluded)",
    ["verb", "resource"],
    buckets=_BUCKETS,
)
INFLIGHT = Gauge("skiff_apiserver_inflight_requests", "Requests being served (watches excluded)")
WATCHERS = Gauge("skiff_apiserver_registered_watchers", "Open watch streams", ["resource"])
ETCD_LATENCY = Histogram(
    "skiff_apiserver_etcd_request_duration_seconds", "etcd call latency", ["operation"], buckets=_BUCKETS
)
OBJECTS = Gauge("skiff_apiserver_storage_objects", "Objects per resource (from the watch cache)", ["resource"])
WATCH_EVENTS = Counter("skiff_apiserver_watch_events_total", "Events received from etcd", ["resource"])
SLOW_WATCHERS = Counter(
    "skiff_apiserver_watchers_terminated_total", "Watchers cut off for falling behind", ["resource"]
)

# Hot-path children (per request / per etcd call / per event), cached: `labels()` costs a lock and a
# string join each time. The label sets are bounded (verbs x resources x codes, etcd ops, resources).
requests = LabelCache[Counter](REQUESTS)
latency = LabelCache[Histogram](LATENCY)
etcd_latency = LabelCache[Histogram](ETCD_LATENCY)
watch_events = LabelCache[Counter](WATCH_EVENTS)
objects = LabelCache[Gauge](OBJECTS)
