"""One metric of an HPA -> a replica proposal and its status (Kubernetes' computeReplicasForMetric).

Resource and ContainerResource metrics come from metrics.k8s.io, Pods metrics from custom.metrics.k8s.io
(skiff-metrics answers both, the latter from Prometheus); Object and External metrics are not served yet
and fail as Kubernetes fails without those APIs (ScalingActive False, FailedGet<Type>Metric), while the
other metrics of the HPA still count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery.quantity import milli_value

from skiff_controllers.horizontalpodautoscaler import replicas
from skiff_controllers.horizontalpodautoscaler.metrics_client import resource_metric
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricsError, PodMetric


@dataclass
class Proposal:
    replicas: int
    name: str
    status: hpa_pb2.MetricStatus


class MetricFailure(Exception):
    """A metric could not be computed: the condition reason and message, and the error to report."""

    def __init__(self, reason: str, cause: str, error: str) -> None:
        super().__init__(error)
        self.reason, self.cause = reason, cause


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
) -> Proposal:
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
    kinds = {"Object": "FailedGetObjectMetric", "External": "FailedGetExternalMetric"}
    if spec.type in kinds:
        api = "external.metrics.k8s.io" if spec.type == "External" else "custom.metrics.k8s.io"
        cause = f"unable to get {spec.type.lower()} metric: no {api} API is served in this cluster"
        raise MetricFailure(kinds[spec.type], cause, f"failed to get {spec.type.lower()} metric value: {cause}")
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
