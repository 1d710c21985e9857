"""kube-proxy's metric names, so dashboards and alerts written for kube-proxy work unchanged."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_BUCKETS = tuple(0.001 * 2**i for i in range(15))  # 1 ms .. 16 s, as kube-proxy's exponential buckets

SYNC_DURATION = Histogram(
    "kubeproxy_sync_proxy_rules_duration_seconds", "SyncProxyRules latency in seconds", buckets=_BUCKETS
)
FULL_SYNC_DURATION = Histogram(
    "kubeproxy_sync_full_proxy_rules_duration_seconds",
    "SyncProxyRules latency in seconds for full resyncs",
    buckets=_BUCKETS,
)
LAST_SYNC = Gauge("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "The last time proxy rules were synced")
LAST_QUEUED = Gauge(
    "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "The last time a sync of proxy rules was queued"
)
ENDPOINT_CHANGES_PENDING = Gauge(
    "kubeproxy_sync_proxy_rules_endpoint_changes_pending", "Pending proxy rules Endpoint changes"
)
ENDPOINT_CHANGES_TOTAL = Counter(
    "kubeproxy_sync_proxy_rules_endpoint_changes_total", "Cumulative proxy rules Endpoint changes"
)
SERVICE_CHANGES_PENDING = Gauge(
    "kubeproxy_sync_proxy_rules_service_changes_pending", "Pending proxy rules Service changes"
)
SERVICE_CHANGES_TOTAL = Counter(
    "kubeproxy_sync_proxy_rules_service_changes_total", "Cumulative proxy rules Service changes"
)
SYNC_FAILURES = Counter(
    "kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "Syncs whose ruleset the kernel refused", ["mode"]
)
