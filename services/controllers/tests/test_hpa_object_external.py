"""Object and External metrics -> proposal, status and failures, against the worked cases of Kubernetes'
replica_calculator_test.go (TestReplicaCalc*CMObject, *PerPodCMObject, *CMExternal, *PerPodCMExternal):
values are in thousandths as Kubernetes' MilliValue() gives them."""

from __future__ import annotations

import pytest
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_controllers.horizontalpodautoscaler.metrics import MetricFailure, compute
from skiff_controllers.horizontalpodautoscaler.metrics_client import object_resource
from skiff_controllers.horizontalpodautoscaler.objectmetrics import (
    ObjectValue,
    external_key,
    go_selector,
    object_key,
)
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricsError

NOW = 1_000_000.0


def pods(*ready: bool) -> list[pod_pb2.Pod]:
    out = []
    for i, is_ready in enumerate(ready):
        p = pod_pb2.Pod()
        p.metadata.name = f"test-pod-{i}"
        p.status.phase = "Running"
        p.status.conditions.add(type="Ready", status="True" if is_ready else "False")
        out.append(p)
    return out


def milli(value: int) -> str:
    return f"{value}m"


def object_spec(target_type: str, target: int) -> hpa_pb2.MetricSpec:
    spec = hpa_pb2.MetricSpec(type="Object")
    ref = spec.object.described_object
    ref.api_version, ref.kind, ref.name = "apps/v1", "Deployment", "some-deployment"
    spec.object.metric.name = "qps"
    spec.object.target.type = target_type
    (spec.object.target.value if target_type == "Value" else spec.object.target.average_value).value = milli(target)
    return spec


def external_spec(target_type: str, target: int, labels: dict[str, str] | None = None) -> hpa_pb2.MetricSpec:
    spec = hpa_pb2.MetricSpec(type="External")
    spec.external.metric.name = "qps"
    if labels is not None:
        spec.external.metric.selector.match_labels.update(labels)
    spec.external.target.type = target_type
    target_field = spec.external.target.value if target_type == "Value" else spec.external.target.average_value
    target_field.value = milli(target)
    return spec


SELECTOR = {"label": "value"}


@pytest.mark.parametrize(
    ("case", "spec", "value", "ready", "expected", "usage"),
    [
        ("ScaleUpCMObject", object_spec("Value", 15000), 20000, [True] * 3, 4, "20"),
        ("ScaleUpCMObjectIgnoresUnreadyPods", object_spec("Value", 10000), 50000, [False, True, False], 5, "50"),
        ("ScaleUpCMPerPodObject", object_spec("AverageValue", 5000), 20000, [True] * 3, 4, "6667m"),
        ("ScaleDownCMObject", object_spec("Value", 20000), 12000, [True] * 5, 3, "12"),
        ("ScaleDownPerPodCMObject", object_spec("AverageValue", 2000), 6000, [True] * 5, 3, "1200m"),
        ("ToleranceCMObject", object_spec("Value", 20000), 20666, [True] * 3, 3, "20666m"),
        ("TolerancePerPodCMObject", object_spec("AverageValue", 5000), 20166, [True] * 4, 4, "5042m"),
    ],
)  # fmt: skip
def test_object_metric(case: str, spec: hpa_pb2.MetricSpec, value: int, ready: list[bool], expected: int,
                       usage: str) -> None:  # fmt: skip
    fetched = {object_key(spec): ObjectValue(value)}
    p = compute(spec, len(ready), pods(*ready), [], Calculator(), NOW, fetched=fetched, namespace="test-namespace")
    assert p.replicas == expected, case
    assert (p.name, p.status.type, p.status.object.metric.name) == ("Deployment metric qps", "Object", "qps")
    assert p.status.object.described_object.name == "some-deployment"
    current = p.status.object.current
    assert (current.value.value if spec.object.target.type == "Value" else current.average_value.value) == usage


@pytest.mark.parametrize(
    ("case", "spec", "values", "ready", "expected", "usage"),
    [
        ("ScaleUpCMExternal", external_spec("Value", 4400, SELECTOR), [8600], [True], 2, "8600m"),
        ("ScaleUpCMExternalIgnoresUnreadyPods", external_spec("Value", 4400, SELECTOR), [8600],
         [False, True, False], 2, "8600m"),
        ("ScaleUpCMExternalNoLabels", external_spec("Value", 4400), [8600], [True], 2, "8600m"),
        ("ScaleUpPerPodCMExternal", external_spec("AverageValue", 2150, SELECTOR), [8600], [True] * 3, 4, "2867m"),
        ("ScaleDownCMExternal", external_spec("Value", 14334, SELECTOR), [8600], [True] * 5, 3, "8600m"),
        ("ScaleDownPerPodCMExternal", external_spec("AverageValue", 2867, SELECTOR), [8600], [True] * 5, 3,
         "1720m"),
        ("ToleranceCMExternal", external_spec("Value", 8888, SELECTOR), [8600], [True] * 3, 3, "8600m"),
        ("TolerancePerPodCMExternal", external_spec("AverageValue", 2900, SELECTOR), [8600], [True] * 3, 3,
         "2867m"),
        ("series are summed", external_spec("Value", 1000, SELECTOR), [1000, 2000, 3000], [True] * 2, 12, "6"),
    ],
)  # fmt: skip
def test_external_metric(case: str, spec: hpa_pb2.MetricSpec, values: list[int], ready: list[bool], expected: int,
                         usage: str) -> None:  # fmt: skip
    fetched = {external_key(spec): values}
    p = compute(spec, len(ready), pods(*ready), [], Calculator(), NOW, fetched=fetched, namespace="test-namespace")
    assert p.replicas == expected, case
    assert p.name == f"external metric qps({go_selector(spec.external.metric)})"
    assert (p.status.type, p.status.external.metric.name) == ("External", "qps")
    assert p.status.external.metric.selector == spec.external.metric.selector
    current = p.status.external.current
    assert (current.value.value if spec.external.target.type == "Value" else current.average_value.value) == usage


def test_average_value_divides_by_status_replicas() -> None:
    """GetObjectPerPodMetricReplicas divides by the scale's status.replicas, not spec.replicas: 3 running
    of 5 wanted, 6000 against 2000 each -> ratio 1.0 within tolerance, stays at the 3 running."""
    spec = object_spec("AverageValue", 2000)
    fetched = {object_key(spec): ObjectValue(6000)}
    p = compute(spec, 5, pods(True, True, True), [], Calculator(), NOW, fetched=fetched, status_replicas=3)
    assert (p.replicas, p.status.object.current.average_value.value) == (3, "2")


def test_go_selector_names_the_metric_as_kubernetes_prints_it() -> None:
    spec = external_spec("Value", 1000, {"queue": "jobs"})
    assert go_selector(spec.external.metric) == (
        "&LabelSelector{MatchLabels:map[string]string{queue: jobs,},MatchExpressions:[]LabelSelectorRequirement{},}"
    )
    assert go_selector(external_spec("Value", 1000).external.metric) == "nil"


@pytest.mark.parametrize(
    ("spec", "fetched", "reason", "cause", "error"),
    [
        (object_spec("Value", 1000), MetricsError("unable to fetch metrics from custom metrics API: boom"),
         "FailedGetObjectMetric",
         "unable to get metric qps: Deployment on ns some-deployment/unable to fetch metrics from custom metrics "
         "API: boom",
         "failed to get object metric value: unable to get metric qps: Deployment on ns some-deployment/unable to "
         "fetch metrics from custom metrics API: boom"),
        (object_spec("AverageValue", 1000), MetricsError("x"), "FailedGetObjectMetric",
         "unable to get metric qps: Deployment on ns some-deployment/x",
         "failed to get object metric value: failed to get qps object metric: unable to get metric qps: Deployment "
         "on ns some-deployment/x"),
        (external_spec("Value", 1000), MetricsError("no metrics returned from external metrics API"),
         "FailedGetExternalMetric", "unable to get external metric ns/qps/nil: no metrics returned from external "
         "metrics API",
         "failed to get external metric qps: unable to get external metric ns/qps/nil: no metrics returned from "
         "external metrics API"),
        (external_spec("AverageValue", 1000), MetricsError("x"), "FailedGetExternalMetric",
         "unable to get external metric ns/qps/nil: x",
         "failed to get qps external metric: unable to get external metric ns/qps/nil: x"),
        (external_spec("", 0), [1], "FailedGetExternalMetric",
         "invalid external metric source: neither a value target nor an average value target was set",
         "invalid external metric source: neither a value target nor an average value target was set"),
    ],
)  # fmt: skip
def test_failures(spec: hpa_pb2.MetricSpec, fetched: object, reason: str, cause: str, error: str) -> None:
    key = object_key(spec) if spec.type == "Object" else external_key(spec)
    with pytest.raises(MetricFailure) as info:
        compute(spec, 3, pods(True), [], Calculator(), NOW, fetched={key: fetched}, namespace="ns")  # type: ignore[dict-item]
    assert (info.value.reason, info.value.cause, str(info.value)) == (reason, cause, error)


def test_value_target_without_pods_fails_as_kubernetes() -> None:
    spec = external_spec("Value", 1000)
    with pytest.raises(MetricFailure) as info:
        compute(spec, 3, [], [], Calculator(), NOW, fetched={external_key(spec): [5000]}, namespace="ns")
    assert info.value.cause == "no pods returned by selector while calculating replica count"


def test_keys_do_not_parse_the_selector() -> None:
    """A bad selector still has a key, so its error (stored by the controller) reaches the condition."""
    spec = external_spec("Value", 1000)
    spec.external.metric.selector.match_expressions.add(key="queue", operator="Nope")
    error = MetricsError('"Nope" is not a valid label selector operator')
    with pytest.raises(MetricFailure) as info:
        compute(spec, 1, pods(True), [], Calculator(), NOW, namespace="ns", fetched={external_key(spec): error})
    assert info.value.reason == "FailedGetExternalMetric"
    assert info.value.cause.endswith(': "Nope" is not a valid label selector operator')
    assert external_key(spec) != external_key(external_spec("Value", 1000))


@pytest.mark.parametrize(
    ("api_version", "kind", "resource"),
    [
        ("v1", "Service", "services"),
        ("apps/v1", "Deployment", "deployments.apps"),
        ("networking.k8s.io/v1", "Ingress", "ingresses.networking.k8s.io"),
        ("example.com/v1", "Policy", "policies.example.com"),
        ("example.com/v1", "Gateway", "gateways.example.com"),
    ],
)
def test_described_object_resource(api_version: str, kind: str, resource: str) -> None:
    assert object_resource(api_version, kind) == resource
