"""One metric of an HPA -> a replica proposal and its status (Kubernetes' computeReplicasForMetric).

Resource and ContainerResource metrics come from metrics.k8s.io, Pods and Object metrics from
custom.metrics.k8s.io, External metrics from external.metrics.k8s.io (skiff-metrics answers all three,
the last two from Prometheus); Object and External proposals are computed in objectmetrics.py. A metric
that fails raises MetricFailure (ScalingActive False, FailedGet<Type>Metric) while the other metrics of
the HPA still count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery.quantity import milli_value

from skiff_controllers.horizontalpodautoscaler import objectmetrics, replicas
from skiff_controllers.horizontalpodautoscaler.metrics_client import resource_metric
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricFailure, MetricsError, PodMetric

__all__ = ["MetricFailure", "Proposal", "compute"]


@dataclass
class Proposal:
    replicas: int
    name: str
    status: hpa_pb2.MetricStatus


def _milli_text(milli: int) -> str:
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"


def compute(
    spec: hpa_pb2.MetricSpec,
    current: int,
    pods: list[pod_pb2.Pod],
    items: list[dict[str, Any]] | MetricsError,
    calc: Calculator,
    now: float,
    custom: dict[str, dict[str, PodMetric] | MetricsError] | None = None,
    *,
    fetched: objectmetrics.Fetched | None = None,
    status_replicas: int | None = None,
    namespace: str = "",
) -> Proposal:
    """`current` is the scale's spec.replicas, `status_replicas` its status.replicas (which the
    AverageValue targets of Object and External metrics divide by), `fetched` the Object and External
    values keyed by objectmetrics.object_key / external_key."""
    if spec.type in ("Resource", "ContainerResource"):
        container_metric = spec.type == "ContainerResource"
        source = spec.container_resource if container_metric else spec.resource
        container = spec.container_resource.container if container_metric else ""
        reason = "FailedGetContainerResourceMetric" if container_metric else "FailedGetResourceMetric"
        name, target = source.name, source.target
        status = hpa_pb2.MetricStatus(type=spec.type)
        current_status = status.container_resource if container_metric else status.resource
        current_status.name = name
        if container_metric:
            status.container_resource.container = container
        try:
            if isinstance(items, MetricsError):
                raise items
            metrics = resource_metric(items, name, container)
        except MetricsError as exc:
            cause = f"unable to get metrics for resource {name}: {exc}"
            raise MetricFailure(reason, cause, f"failed to get {name} utilization: {cause}") from None
        try:
            if target.HasField("average_value") and target.average_value.value:
                proposal, usage = replicas.plain_replicas(
                    current, milli_value(target.average_value.value), name, pods, metrics, calc, now
                )
                current_status.current.average_value.value = _milli_text(usage)
                what = f"{name} container resource" if container_metric else f"{name} resource"
                return Proposal(proposal, what, status)
            if not target.HasField("average_utilization"):
                raise MetricsError(
                    "invalid resource metric source: neither an average utilization target nor an average value "
                    "(usage) target was set"
                )
            proposal, utilization, raw = replicas.resource_replicas(
                current, target.average_utilization, name, pods, metrics, calc, now, container
            )
        except MetricsError as exc:
            raise MetricFailure(reason, str(exc), f"failed to get {name} utilization: {exc}") from None
        current_status.current.average_utilization = utilization
        current_status.current.average_value.value = _milli_text(raw)
        what = (
            f"{name} container resource utilization (percentage of request)"
            if container_metric
            else f"{name} resource utilization (percentage of request)"
        )
        return Proposal(proposal, what, status)
    if spec.type == "Pods":
        return _pods_metric(spec, current, pods, (custom or {}).get(spec.pods.metric.name), calc, now)
    if spec.type in ("Object", "External"):
        status_count = current if status_replicas is None else status_replicas
        single = objectmetrics.object_metric if spec.type == "Object" else objectmetrics.external_metric
        count, what, status = single(spec, namespace, current, status_count, pods, fetched or {}, calc)
        return Proposal(count, what, status)
    raise MetricFailure(
        "InvalidMetricSourceType",
        f'unknown metric source type "{spec.type}"',
        f'unknown metric source type "{spec.type}"',
    )


def _pods_metric(
    spec: hpa_pb2.MetricSpec,
    current: int,
    pods: list[pod_pb2.Pod],
    values: dict[str, PodMetric] | MetricsError | None,
    calc: Calculator,
    now: float,
) -> Proposal:
    """A Pods metric (custom.metrics.k8s.io): the average per pod against target.averageValue, as
    Kubernetes' GetMetricReplicas (readiness plays no part: not a CPU metric)."""
    name = spec.pods.metric.name
    try:
        if values is None:
            raise MetricsError("no custom metrics API answered")
        if isinstance(values, MetricsError):
            raise values
        if not spec.pods.target.HasField("average_value") or not spec.pods.target.average_value.value:
            raise MetricsError("invalid pods metric source: an average value (usage) target is required")
        target = milli_value(spec.pods.target.average_value.value)
        proposal, usage = replicas.plain_replicas(current, target, "", pods, values, calc, now)
    except MetricsError as exc:
        cause = f"unable to get metric {name}: {exc}"
        raise MetricFailure("FailedGetPodsMetric", cause, f"failed to get pods metric value: {cause}") from None
    status = hpa_pb2.MetricStatus(type="Pods")
    status.pods.metric.CopyFrom(spec.pods.metric)
    status.pods.current.average_value.value = _milli_text(usage)
    return Proposal(proposal, f"pods metric {name}", status)
