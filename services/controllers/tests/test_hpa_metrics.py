"""One HPA metric -> proposal and MetricStatus: Pods metrics from custom.metrics.k8s.io as Kubernetes'
GetMetricReplicas, and failures with Kubernetes' reasons (Object and External: test_hpa_object_external.py)."""

from __future__ import annotations

import pytest
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_controllers.horizontalpodautoscaler.metrics import MetricFailure, compute
from skiff_controllers.horizontalpodautoscaler.replicas import Calculator, MetricsError, PodMetric

NOW = 1_000_000.0


def pods(n: int) -> list[pod_pb2.Pod]:
    out = []
    for i in range(n):
        p = pod_pb2.Pod()
        p.metadata.name = f"test-pod-{i}"
        p.status.phase = "Running"
        out.append(p)
    return out


def pods_spec(name: str = "qps", target: str = "15") -> hpa_pb2.MetricSpec:
    spec = hpa_pb2.MetricSpec(type="Pods")
    spec.pods.metric.name = name
    spec.pods.target.type = "AverageValue"
    spec.pods.target.average_value.value = target
    return spec


def test_pods_metric_scales_on_the_average() -> None:
    """TestReplicaCalcScaleUpCM: 20, 10, 30 against 15 per pod -> ceil(3 x 20/15) = 4."""
    values = {f"test-pod-{i}": PodMetric(v * 1000, NOW) for i, v in enumerate((20, 10, 30))}
    p = compute(pods_spec(), 3, pods(3), [], Calculator(), NOW, {"qps": values})
    assert (p.replicas, p.name) == (4, "pods metric qps")
    assert p.status.type == "Pods" and p.status.pods.metric.name == "qps"
    assert p.status.pods.current.average_value.value == "20"


@pytest.mark.parametrize(
    ("spec", "custom", "reason", "cause"),
    [
        (pods_spec(), {"qps": MetricsError("no metrics returned from custom metrics API")}, "FailedGetPodsMetric",
         "unable to get metric qps: no metrics returned from custom metrics API"),
        (pods_spec(target=""), {"qps": {}}, "FailedGetPodsMetric",
         "unable to get metric qps: invalid pods metric source: an average value (usage) target is required"),
        (hpa_pb2.MetricSpec(type="Object"), {}, "FailedGetObjectMetric",
         "invalid object metric source: neither a value target nor an average value target was set"),
        (hpa_pb2.MetricSpec(type="Nope"), {}, "InvalidMetricSourceType", 'unknown metric source type "Nope"'),
    ],
)  # fmt: skip
def test_failures(spec: hpa_pb2.MetricSpec, custom: dict, reason: str, cause: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(MetricFailure) as info:
        compute(spec, 3, pods(3), [], Calculator(), NOW, custom)
    assert (info.value.reason, info.value.cause) == (reason, cause)
