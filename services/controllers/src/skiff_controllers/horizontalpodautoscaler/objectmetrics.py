"""Object and External metrics of an HPA -> a replica proposal and its status (Kubernetes'
computeStatusForObjectMetric and computeStatusForExternalMetric).

Both are one number rather than one per pod: an Object metric describes one Kubernetes object (a
Service's requests per second, read from custom.metrics.k8s.io), an External metric is the sum of the
series that match its selector (a queue's length, read from external.metrics.k8s.io). Against a Value
target the ratio scales the ready pods; against an AverageValue target the number is divided among the
target's current replicas (replicas.py). The controller fetches the values first, keyed by `object_key`
and `external_key`, so these functions stay pure.

One deliberate difference: Kubernetes names an Object AverageValue proposal "external metric ..." and
leaves describedObject out of its status (a copy-paste slip that upstream is fixing); here both Object
targets are named "<Kind> metric <name>" and report describedObject.
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.labels import selector_from_proto
from skiff_common.apimachinery.quantity import milli_value

from skiff_controllers.horizontalpodautoscaler import replicas
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricFailure, MetricsError


@dataclass(frozen=True)
class ObjectValue:
    value: int  # thousandths


Fetched = dict[str, "ObjectValue | list[int] | MetricsError"]


def metric_selector(metric: hpa_pb2.MetricIdentifier) -> str:
    """The metric's label selector in its string form (the metricSelector / labelSelector parameter);
    a ValueError names a bad requirement."""
    return str(selector_from_proto(metric.selector)) if metric.HasField("selector") else ""


def _selector_key(metric: hpa_pb2.MetricIdentifier) -> str:
    """Identifies the selector without parsing it (a bad one must still have a key for its error)."""
    return metric.selector.SerializeToString(deterministic=True).hex() if metric.HasField("selector") else "-"


def object_key(spec: hpa_pb2.MetricSpec) -> str:
    ref, metric = spec.object.described_object, spec.object.metric
    return f"object/{ref.api_version}/{ref.kind}/{ref.name}/{metric.name}/{_selector_key(metric)}"


def external_key(spec: hpa_pb2.MetricSpec) -> str:
    return f"external/{spec.external.metric.name}/{_selector_key(spec.external.metric)}"


def go_selector(metric: hpa_pb2.MetricIdentifier) -> str:
    """A LabelSelector as Go's `%+v` prints it, which Kubernetes puts in names and messages."""
    if not metric.HasField("selector"):
        return "nil"
    sel: meta_pb2.LabelSelector = metric.selector
    labels = "".join(f"{k}: {sel.match_labels[k]}," for k in sorted(sel.match_labels))
    exprs = "".join(
        f"LabelSelectorRequirement{{Key:{e.key},Operator:{e.operator},Values:[{' '.join(e.values)}],}},"
        for e in sel.match_expressions
    )
    return f"&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}"  # noqa: E501


def _milli_text(milli: int) -> str:
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"


def _target(target: hpa_pb2.MetricTarget) -> tuple[str, int] | None:
    """("Value" | "AverageValue", thousandths); AverageValue wins when both are set, as in Kubernetes.
    A target that is not positive counts as unset (Kubernetes' validation refuses it)."""
    if target.HasField("average_value") and target.average_value.value and target.type != "Value":
        average = milli_value(target.average_value.value)
        return ("AverageValue", average) if average > 0 else None
    if target.HasField("value") and target.value.value and target.type != "AverageValue":
        value = milli_value(target.value.value)
        return ("Value", value) if value > 0 else None
    return None


def object_metric(
    spec: hpa_pb2.MetricSpec, namespace: str, current: int, status_replicas: int, pods: list[pod_pb2.Pod],
    fetched: Fetched, calc: Calculator,
) -> tuple[int, str, hpa_pb2.MetricStatus]:  # fmt: skip
    source, reason = spec.object, "FailedGetObjectMetric"
    ref, name = source.described_object, source.metric.name
    target = _target(source.target)
    if target is None:
        error = "invalid object metric source: neither a value target nor an average value target was set"
        raise MetricFailure(reason, error, f"failed to get object metric value: {error}")
    kind, goal = target
    found = fetched.get(object_key(spec), MetricsError("no custom metrics API answered"))
    try:
        if isinstance(found, MetricsError):
            # Kubernetes' words, in its argument order: "<metric>: <Kind> on <namespace> <name>/<error>"
            raise MetricsError(f"unable to get metric {name}: {ref.kind} on {namespace} {ref.name}/{found}")
        assert isinstance(found, ObjectValue)
        if kind == "Value":
            proposal, usage = replicas.value_replicas(current, goal, found.value, pods, calc), found.value
        else:
            proposal, usage = replicas.average_value_replicas(status_replicas, goal, found.value, calc)
    except MetricsError as exc:
        wrapped = f"failed to get {name} object metric: {exc}" if kind == "AverageValue" else str(exc)
        raise MetricFailure(reason, str(exc), f"failed to get object metric value: {wrapped}") from None
    status = hpa_pb2.MetricStatus(type="Object")
    status.object.described_object.CopyFrom(ref)
    status.object.metric.CopyFrom(source.metric)
    current_value = status.object.current.value if kind == "Value" else status.object.current.average_value
    current_value.value = _milli_text(usage)
    return proposal, f"{ref.kind} metric {name}", status


def external_metric(
    spec: hpa_pb2.MetricSpec, namespace: str, current: int, status_replicas: int, pods: list[pod_pb2.Pod],
    fetched: Fetched, calc: Calculator,
) -> tuple[int, str, hpa_pb2.MetricStatus]:  # fmt: skip
    source, reason = spec.external, "FailedGetExternalMetric"
    name = source.metric.name
    target = _target(source.target)
    if target is None:
        error = "invalid external metric source: neither a value target nor an average value target was set"
        raise MetricFailure(reason, error, error)
    kind, goal = target
    found = fetched.get(external_key(spec), MetricsError("no external metrics API answered"))
    try:
        if isinstance(found, MetricsError):
            selector = go_selector(source.metric)
            raise MetricsError(f"unable to get external metric {namespace}/{name}/{selector}: {found}")
        assert isinstance(found, list)
        total = sum(found)
        if kind == "Value":
            proposal, usage = replicas.value_replicas(current, goal, total, pods, calc), total
        else:
            proposal, usage = replicas.average_value_replicas(status_replicas, goal, total, calc)
    except MetricsError as exc:
        wrapped = f"failed to get {name} external metric: {exc}" if kind == "AverageValue" else (
            f"failed to get external metric {name}: {exc}"
        )  # fmt: skip
        raise MetricFailure(reason, str(exc), wrapped) from None
    status = hpa_pb2.MetricStatus(type="External")
    status.external.metric.CopyFrom(source.metric)
    current_value = status.external.current.value if kind == "Value" else status.external.current.average_value
    current_value.value = _milli_text(usage)
    return proposal, f"external metric {name}({go_selector(source.metric)})", status
