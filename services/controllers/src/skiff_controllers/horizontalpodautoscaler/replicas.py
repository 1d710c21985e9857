"""Kubernetes' replica calculator (`pkg/controller/podautoscaler/replica_calculator.go`), as pure functions.

    pods (by the scale's selector) + per-pod metrics
      -> group_pods: ignored (deleted, Failed), unready (Pending; for CPU: not Ready, or still in the CPU
         initialization period without a full metric window since it became Ready), missing (no metric)
      -> ratio = usage / target over the ready pods with metrics
      -> no unready-on-scale-up and nothing missing: |1 - ratio| <= tolerance ? current : ceil(ratio x ready)
      -> otherwise missing pods count as 100 % (scale-down) or 0 % (scale-up), unready pods as 0 % on a
         scale-up; recompute; keep the current count when that is within tolerance or flips direction

    one value (Object metric, or the sum of an External metric's series) against a Value target
      -> ratio = value / target; within tolerance ? current : ceil(ratio x Running-and-Ready pods)
    ... against an AverageValue target
      -> ratio = value / (target x status replicas); within tolerance ? current : ceil(value / target)

Metric values are in thousandths (CPU millicores, memory milli-bytes), as Kubernetes' metrics client
reports `MilliValue()`; an error is a `MetricsError` whose text is Kubernetes'.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery.quantity import milli_value

TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0


class MetricsError(Exception):
    pass


class MetricFailure(Exception):
    """A metric could not be computed: the condition reason (FailedGet<Type>Metric), the calculator's
    error (the event's and condition's text) and the wrapped error Kubernetes reports."""

    def __init__(self, reason: str, cause: str, error: str) -> None:
        super().__init__(error)
        self.reason, self.cause = reason, cause


@dataclass(frozen=True)
class PodMetric:
    value: int  # thousandths
    timestamp: float = 0.0
    window: float = 0.0


@dataclass(frozen=True)
class Calculator:
    tolerance: float = TOLERANCE
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD
    initial_readiness_delay: float = INITIAL_READINESS_DELAY


def _ready_condition(pod: pod_pb2.Pod) -> tuple[str, float] | None:
    for c in pod.status.conditions:
        if c.type == "Ready":
            return c.status, c.last_transition_time.seconds + c.last_transition_time.nanos / 1e9
    return None


def group_pods(
    pods: list[pod_pb2.Pod], metrics: dict[str, PodMetric], resource: str, calc: Calculator, now: float
) -> tuple[int, set[str], set[str], set[str]]:
    """(ready count, unready, missing, ignored) as Kubernetes' groupPods."""
    ready, unready, missing, ignored = 0, set(), set(), set()
    for pod in pods:
        name = pod.metadata.name
        if pod.metadata.HasField("deletion_timestamp") or pod.status.phase == "Failed":
            ignored.add(name)
            continue
        if pod.status.phase == "Pending":
            unready.add(name)
            continue
        metric = metrics.get(name)
        if metric is None:
            missing.add(name)
            continue
        if resource == "cpu":
            condition = _ready_condition(pod)
            if condition is None or not pod.status.HasField("start_time"):
                is_unready = True
            else:
                status, transition = condition
                start = pod.status.start_time.seconds
                if start + calc.cpu_initialization_period > now:
                    is_unready = status == "False" or metric.timestamp < transition + metric.window
                else:
                    is_unready = status == "False" and start + calc.initial_readiness_delay > transition
            if is_unready:
                unready.add(name)
                continue
        ready += 1
    return ready, unready, missing, ignored


def pod_requests(pods: list[pod_pb2.Pod], container: str, resource: str) -> dict[str, int]:
    """Each pod's request for the resource (thousandths), summed over its containers (or the one named)."""
    out = {}
    for pod in pods:
        total = 0
        for c in pod.spec.containers:
            if container and c.name != container:
                continue
            request = c.resources.requests.get(resource)
            if request is None or not request.value:
                raise MetricsError(f"missing request for {resource} in container {c.name} of Pod {pod.metadata.name}")
            total += milli_value(request.value)
        out[pod.metadata.name] = total
    return out


def utilization_ratio(metrics: dict[str, PodMetric], requests: dict[str, int], target: int) -> tuple[float, int, int]:
    """(ratio, utilization %, raw average) as GetResourceUtilizationRatio."""
    used = requested = entries = 0
    for name, metric in metrics.items():
        if name not in requests:
            continue  # metrics of pods we do not know are extraneous
        used += metric.value
        requested += requests[name]
        entries += 1
    if requested == 0:
        raise MetricsError("no metrics returned matched known pods")
    utilization = used * 100 // requested
    return utilization / target, utilization, used // entries


def usage_ratio(metrics: dict[str, PodMetric], target: int) -> tuple[float, int]:
    usage = sum(m.value for m in metrics.values()) // len(metrics)
    return usage / target, usage


def _finish(current: int, ratio: float, new_ratio: float, counted: int, tolerance: float) -> int:
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0 < new_ratio) or (ratio > 1.0 > new_ratio):
        return current  # too small a change, or the assumptions flipped the direction
    proposal = math.ceil(new_ratio * counted)
    if (new_ratio < 1.0 and proposal > current) or (new_ratio > 1.0 and proposal < current):
        return current
    return proposal


def resource_replicas(
    current: int,
    target_utilization: int,
    resource: str,
    pods: list[pod_pb2.Pod],
    metrics: dict[str, PodMetric],
    calc: Calculator,
    now: float,
    container: str = "",
) -> tuple[int, int, int]:
    """(replicas, utilization %, raw average) for a Utilization target, as GetResourceReplicas."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, calc, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    requests = pod_requests(pods, container, resource)
    ratio, utilization, raw = utilization_ratio(metrics, requests, target_utilization)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= calc.tolerance:
            return current, utilization, raw
        return math.ceil(ratio * ready), utilization, raw
    if missing and ratio != 1.0:
        fallback = max(100, target_utilization)  # scale-down: missing pods at 100 % (or the target if higher)
        for name in missing:
            metrics[name] = PodMetric(requests[name] * fallback // 100 if ratio < 1.0 else 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0)
    new_ratio, _, _ = utilization_ratio(metrics, requests, target_utilization)
    return _finish(current, ratio, new_ratio, len(metrics), calc.tolerance), utilization, raw


def plain_replicas(
    current: int,
    target_usage: int,
    resource: str,
    pods: list[pod_pb2.Pod],
    metrics: dict[str, PodMetric],
    calc: Calculator,
    now: float,
) -> tuple[int, int]:
    """(replicas, average usage) for an AverageValue target, as calcPlainMetricReplicas."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    metrics = dict(metrics)
    ready, unready, missing, ignored = group_pods(pods, metrics, resource, calc, now)
    for name in ignored | unready:
        metrics.pop(name, None)
    if not metrics:
        raise MetricsError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, usage = usage_ratio(metrics, target_usage)
    scale_up_with_unready = bool(unready) and ratio > 1.0
    if not scale_up_with_unready and not missing:
        if abs(1.0 - ratio) <= calc.tolerance:
            return current, usage
        return math.ceil(ratio * ready), usage
    if ratio != 1.0:
        for name in missing:
            metrics[name] = PodMetric(target_usage if ratio < 1.0 else 0)
    if scale_up_with_unready:
        for name in unready:
            metrics[name] = PodMetric(0)
    new_ratio, _ = usage_ratio(metrics, target_usage)
    return _finish(current, ratio, new_ratio, len(metrics), calc.tolerance), usage


def ready_pods(pods: list[pod_pb2.Pod]) -> int:
    """getReadyPodsCount: Running pods whose Ready condition is True."""
    if not pods:
        raise MetricsError("no pods returned by selector while calculating replica count")
    return sum(1 for p in pods if p.status.phase == "Running" and (_ready_condition(p) or ("",))[0] == "True")


def usage_ratio_replicas(current: int, ratio: float, pods: list[pod_pb2.Pod], calc: Calculator) -> int:
    """getUsageRatioReplicaCount: a single value against its target scales the *ready* pods by the ratio;
    from zero replicas the ratio itself is the count."""
    if current == 0:
        return math.ceil(ratio)
    if abs(1.0 - ratio) <= calc.tolerance:
        return current
    return math.ceil(ratio * ready_pods(pods))


def value_replicas(current: int, target: int, usage: int, pods: list[pod_pb2.Pod], calc: Calculator) -> int:
    """A Value target (Object or External metric; for External `usage` is the sum of the series):
    GetObjectMetricReplicas / GetExternalMetricReplicas, ratio = usage / target."""
    return usage_ratio_replicas(current, usage / target, pods, calc)


def average_value_replicas(status_replicas: int, target: int, usage: int, calc: Calculator) -> tuple[int, int]:
    """An AverageValue target of an Object or External metric: the total divided among the target's
    current replicas (GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas) ->
    (replicas, average per replica). Readiness plays no part; the proposal is ceil(total / target)."""
    if status_replicas == 0:  # nothing to divide among: Kubernetes' ratio is +Inf, so it always rescales
        return math.ceil(usage / target), usage
    replicas = status_replicas
    if abs(1.0 - usage / (target * status_replicas)) > calc.tolerance:
        replicas = math.ceil(usage / target)
    return replicas, math.ceil(usage / status_replicas)
