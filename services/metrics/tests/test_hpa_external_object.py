"""HPAs on External and Object metrics read from a real Prometheus (Debian's `prometheus`).

An exporter plays the outside world: a queue gauge per queue (`queue_messages_ready{queue=...}`) and a
request counter of the Service `front` (`nginx_requests_total{service="front"}`, 40 a second). Prometheus
scrapes it every second; skiff-metrics serves `queue_messages` as an external metric (externalRules,
namespaced, label selector honoured) and `requests_per_second` of Services as a custom object metric;
the HPA controller, syncing every half second, scales Deployments on them.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from skiff.api.apps.v1 import apps_pb2
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import event_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig
from skiff_metrics.app import MetricsServer
from skiff_metrics.config import MetricsConfig
from test_custom_metrics import free_port, prometheus, quantity, serve_exporter  # noqa: F401 - the fixture
from test_hpa_custom_metric import kubelet

pytestmark = pytest.mark.etcd
RULES = """
rules:
  - seriesQuery: 'nginx_requests_total{namespace!="",service!=""}'
    resources:
      overrides:
        namespace: {resource: namespace}
        service: {resource: service}
    name: {matches: "^nginx_(.*)_total$", as: "${1}_per_second"}
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[5s])) by (<<.GroupBy>>)'
externalRules:
  - seriesQuery: 'queue_messages_ready{namespace!="",queue!=""}'
    name: {as: "queue_messages"}
    metricsQuery: 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)'
"""
STARTED = time.time()
QUEUES = {"jobs": 30.0, "mail": 1000.0}  # the test changes "jobs" as it goes


@pytest.fixture
async def exporter() -> AsyncIterator[int]:
    """Overrides test_custom_metrics' exporter with the queues and the Service's request counter."""

    async def metrics(request: web.Request) -> web.Response:
        rows = [f'queue_messages_ready{{namespace="default",queue="{q}"}} {n}' for q, n in QUEUES.items()]
        rows.append('queue_messages_ready{namespace="elsewhere",queue="jobs"} 500')
        rows.append(f'nginx_requests_total{{namespace="default",service="front"}} {40 * (time.time() - STARTED):.1f}')
        return web.Response(text="\n".join(rows) + "\n")

    async with serve_exporter(metrics) as port:
        yield port


@pytest.fixture
async def cluster(client: ApiClient, prometheus: str, tmp_path: Path) -> AsyncIterator[int]:  # noqa: F811
    """skiff-metrics over Prometheus and the controllers (HPA sync 0.5 s); yields skiff-metrics' port."""
    (tmp_path / "rules.yaml").write_text(RULES)
    rules = str(tmp_path / "rules.yaml")
    cfg = MetricsConfig(listen="127.0.0.1:0", prometheus_url=prometheus, custom_metrics_rules=rules)
    cfg.validate()
    metrics = MetricsServer(client, cfg)
    await metrics.start()
    config = ControllersConfig(
        metrics_api_server=f"http://127.0.0.1:{metrics.port}", horizontal_pod_autoscaler_sync_period=0.5
    )
    manager = ControllerManager(client, ["replicaset", "deployment", "horizontalpodautoscaler"], config=config)
    await manager.start()
    try:
        async with kubelet(client):
            yield metrics.port
    finally:
        await manager.stop()
        await metrics.stop()


async def deployment(client: ApiClient, name: str) -> None:
    d = apps_pb2.Deployment(metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    d.spec.replicas = 1
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="c", image="busybox")
    await client.create(d)


def autoscaler(name: str, max_replicas: int) -> hpa_pb2.HorizontalPodAutoscaler:
    h = hpa_pb2.HorizontalPodAutoscaler(metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    ref = h.spec.scale_target_ref
    ref.api_version, ref.kind, ref.name = "apps/v1", "Deployment", name
    h.spec.min_replicas, h.spec.max_replicas = 1, max_replicas
    h.spec.behavior.scale_down.stabilization_window_seconds = 0  # the test need not wait 5 minutes
    return h


def queue_metric(h: hpa_pb2.HorizontalPodAutoscaler, target_type: str, target: str) -> None:
    m = h.spec.metrics.add(type="External")
    m.external.metric.name = "queue_messages"
    m.external.metric.selector.match_labels["queue"] = "jobs"
    m.external.target.type = target_type
    (m.external.target.value if target_type == "Value" else m.external.target.average_value).value = target


async def replicas_become(client: ApiClient, name: str, n: int, what: str) -> None:
    async def check() -> Any:
        got = await client.get(apps_pb2.Deployment, name, "default")
        return got if got.spec.replicas == n else None

    await eventually(check, what, within=60)


async def rescales(client: ApiClient, name: str) -> list[str]:
    events = (await client.list(event_pb2.Event, "default")).items
    return [e.message for e in events if e.involved_object.name == name and e.reason == "SuccessfulRescale"]


async def test_external_metric_api_and_hpa(client: ApiClient, cluster: int) -> None:
    base = f"http://127.0.0.1:{cluster}/apis/external.metrics.k8s.io/v1beta1"
    async with aiohttp.ClientSession() as http:

        async def jobs() -> list[dict[str, Any]] | None:
            async with http.get(f"{base}/namespaces/default/queue_messages?labelSelector=queue%3Djobs") as resp:
                items = (await resp.json())["items"] if resp.status == 200 else []
            return items or None

        (item,) = await eventually(jobs, "the jobs queue from Prometheus")
        assert (item["metricName"], quantity(item["value"])) == ("queue_messages", 30)
        async with http.get(f"{base}/namespaces/default/queue_messages") as resp:
            # no selector: the rule sums (by nothing) both queues of default, not the one of "elsewhere"
            assert [quantity(i["value"]) for i in (await resp.json())["items"]] == [1030]
        async with http.get(base) as resp:
            assert [r["name"] for r in (await resp.json())["resources"]] == ["queue_messages"]
        async with http.get(f"{base}/namespaces/default/nope") as resp:
            assert resp.status == 404
        async with http.get(f"{base}/namespaces/default/queue_messages?labelSelector=queue%3E1") as resp:
            assert resp.status == 400 and "no PromQL matcher" in (await resp.json())["message"]

    await deployment(client, "worker")
    h = autoscaler("worker", 5)
    queue_metric(h, "AverageValue", "10")  # 30 messages, 10 per replica -> 3
    await client.create(h)
    await replicas_become(client, "worker", 3, "the HPA scaling worker to 3 on the queue")
    assert any("external metric queue_messages(" in m and "above target" in m for m in await rescales(client, "worker"))

    async def status() -> hpa_pb2.HorizontalPodAutoscaler | None:
        got = await client.get(hpa_pb2.HorizontalPodAutoscaler, "worker", "default")
        metrics = got.status.current_metrics
        return got if metrics and metrics[0].external.current.average_value.value == "10" else None

    got = await eventually(status, "currentMetrics showing 10 messages per replica")
    (current,) = got.status.current_metrics
    assert current.type == "External" and current.external.metric.selector.match_labels["queue"] == "jobs"
    conditions = {c.type: (c.status, c.reason) for c in got.status.conditions}
    assert conditions["ScalingActive"] == ("True", "ValidMetricFound")

    QUEUES["jobs"] = 5.0  # 5 messages among 3 replicas: ceil(5 / 10) = 1
    try:
        await replicas_become(client, "worker", 1, "the HPA scaling worker back to 1")
    finally:
        QUEUES["jobs"] = 30.0
    assert any("All metrics below target" in m for m in await rescales(client, "worker"))


async def test_object_metric_api_and_hpa(client: ApiClient, cluster: int) -> None:
    async with aiohttp.ClientSession() as http:

        async def rate() -> dict[str, Any] | None:
            url = f"http://127.0.0.1:{cluster}/apis/custom.metrics.k8s.io/v1beta2/namespaces/default/services/front/requests_per_second"
            async with http.get(url) as resp:
                body = await resp.json()
            return body if resp.status == 200 and quantity(body["items"][0]["value"]) >= 30 else None

        body = await eventually(rate, "the Service's request rate from Prometheus")
        (item,) = body["items"]
        assert item["describedObject"] == {"kind": "Service", "namespace": "default", "name": "front",
                                           "apiVersion": "v1"}  # fmt: skip
        assert item["metric"] == {"name": "requests_per_second"}

    await deployment(client, "front")
    h = autoscaler("front", 4)
    m = h.spec.metrics.add(type="Object")
    ref = m.object.described_object
    ref.api_version, ref.kind, ref.name = "v1", "Service", "front"
    m.object.metric.name = "requests_per_second"
    m.object.target.type, m.object.target.value.value = "Value", "10"  # 40/s against 10: x4 the ready pods
    queue_metric(h, "Value", "100")  # 30 messages against 100: proposes fewer; the largest proposal wins
    await client.create(h)
    await replicas_become(client, "front", 4, "the HPA scaling front to its maximum of 4 on the Service's rate")
    assert any("Service metric requests_per_second above target" in m for m in await rescales(client, "front"))

    async def both() -> hpa_pb2.HorizontalPodAutoscaler | None:
        got = await client.get(hpa_pb2.HorizontalPodAutoscaler, "front", "default")
        limited = any(c.type == "ScalingLimited" and c.status == "True" for c in got.status.conditions)
        return got if len(got.status.current_metrics) == 2 and limited else None

    # Once the 4 pods are ready the Service's rate asks for 16: held at maxReplicas.
    got = await eventually(both, "currentMetrics of both metrics, scaling limited at the maximum")
    obj, ext = got.status.current_metrics
    assert obj.type == "Object" and obj.object.described_object.name == "front"
    assert quantity(obj.object.current.value.value) >= 30
    assert ext.type == "External" and quantity(ext.external.current.value.value) == 30
    conditions = {c.type: (c.status, c.reason) for c in got.status.conditions}
    assert conditions["ScalingLimited"] == ("True", "TooManyReplicas")


async def test_missing_metrics_fail_with_kubernetes_reasons(client: ApiClient, cluster: int) -> None:
    await deployment(client, "lost")
    h = autoscaler("lost", 3)
    m = h.spec.metrics.add(type="Object")
    ref = m.object.described_object
    ref.api_version, ref.kind, ref.name = "v1", "Service", "nowhere"
    m.object.metric.name = "requests_per_second"
    m.object.target.type, m.object.target.value.value = "Value", "10"
    await client.create(h)

    async def inactive() -> Any:
        got = await client.get(hpa_pb2.HorizontalPodAutoscaler, "lost", "default")
        conditions = {c.type: (c.status, c.reason, c.message) for c in got.status.conditions}
        return conditions.get("ScalingActive") if conditions.get("ScalingActive", ("",))[0] == "False" else None

    _, reason, message = await eventually(inactive, "ScalingActive False for the missing Service metric")
    assert reason == "FailedGetObjectMetric"
    assert "unable to get metric requests_per_second: Service on default nowhere/" in message
    events = (await client.list(event_pb2.Event, "default")).items
    assert any(e.reason == "FailedGetObjectMetric" and e.involved_object.name == "lost" for e in events)
