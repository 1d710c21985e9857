"""Metrics with kube-scheduler's names and labels, so its dashboards and SLO queries read ours.

Bucket boundaries follow kube-scheduler's (exponential from 1 ms / 10 ms); per-plugin timings are
recorded only on the sampled cycles (see framework.runtime).
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram

from skiff_scheduler.framework.status import Status

_EXP_1MS = tuple(0.001 * 2**i for i in range(15))
_EXP_10MS = tuple(0.01 * 2**i for i in range(20))
_PLUGIN = tuple(0.00001 * 1.5**i for i in range(20))

SCHEDULE_ATTEMPTS = Counter(
    "scheduler_schedule_attempts_total",
    "Number of attempts to schedule pods, by the result.",
    ["result", "profile"],
)
ATTEMPT_DURATION = Histogram(
    "scheduler_scheduling_attempt_duration_seconds",
    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
    ["result", "profile"],
    buckets=_EXP_1MS,
)
POD_SLI_DURATION = Histogram(
    "scheduler_pod_scheduling_sli_duration_seconds",
    "E2e latency for a pod being scheduled, from the time the pod enters the queue (first attempt "
    "onwards, excluding time spent waiting for cluster events).",
    ["attempts"],
    buckets=_EXP_10MS,
)
PENDING_PODS = Gauge(
    "scheduler_pending_pods",
    "Number of pending pods, by the queue type.",
    ["queue"],
)
PLUGIN_DURATION = Histogram(
    "scheduler_plugin_execution_duration_seconds",
    "Duration for running a plugin at a specific extension point.",
    ["plugin", "extension_point", "status"],
    buckets=_PLUGIN,
)
PREEMPTION_VICTIMS = Histogram(
    "scheduler_preemption_victims",
    "Number of selected preemption victims",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
PREEMPTION_ATTEMPTS = Counter(
    "scheduler_preemption_attempts_total", "Total preemption attempts in the cluster till now"
)
QUEUE_INCOMING = Counter(
    "scheduler_queue_incoming_pods_total",
    "Number of pods added to scheduling queues by event and queue type.",
    ["queue", "event"],
)


def plugin_duration(plugin: str, point: str, status: Status, t0: float) -> None:
    PLUGIN_DURATION.labels(plugin, point, status.code.value).observe(time.perf_counter() - t0)
