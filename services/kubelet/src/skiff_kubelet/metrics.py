"""The kubelet's Prometheus metrics, in the kubelet's own names so Kubernetes' dashboards read them.

Skiff-only figures (PLEG events by type, orphan sandboxes) keep the `skiff_kubelet_` prefix."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

RUNNING_PODS = Gauge("kubelet_running_pods", "Number of pods that have a running pod sandbox")
RUNNING_CONTAINERS = Gauge("kubelet_running_containers", "Number of containers currently running", ["container_state"])
PLEG_RELIST_SECONDS = Histogram(
    "kubelet_pleg_relist_duration_seconds", "Duration in seconds for relisting pods in PLEG.", buckets=_BUCKETS
)
PLEG_LAST_SEEN = Gauge("kubelet_pleg_last_seen_seconds", "Timestamp in seconds when PLEG was last seen active.")
POD_WORKER_SECONDS = Histogram(
    "kubelet_pod_worker_duration_seconds",
    "Duration in seconds to sync a single pod. Broken down by operation type: create, update, or sync",
    ["operation_type"],
    buckets=_BUCKETS,
)
PLEG_EVENTS = Counter("skiff_kubelet_pleg_events_total", "Pod lifecycle events from the relist", ["type"])
POD_SYNCS = Counter("skiff_kubelet_pod_syncs_total", "Pod syncs by result", ["result"])
ORPHANS = Counter("skiff_kubelet_orphan_sandboxes_removed_total", "Sandboxes removed whose pod is gone")
