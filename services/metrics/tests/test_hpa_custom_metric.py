"""An HPA scaling a Deployment on a custom metric read from a real Prometheus: an exporter (playing the
pods' /metrics) counts 30 requests a second for each pod of the Deployment, Prometheus scrapes it every
second, skiff-metrics turns `http_requests_total` into `http_requests_per_second` (custom.metrics.k8s.io),
and the HPA (Pods metric, target 10 per pod) scales the Deployment from 1 to its maximum of 3."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from skiff.api.apps.v1 import apps_pb2
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.core.v1 import event_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig
from skiff_metrics.app import MetricsServer
from skiff_metrics.config import MetricsConfig
from test_custom_metrics import free_port, prometheus, serve_exporter  # noqa: F401 - the fixture

pytestmark = pytest.mark.etcd
RULES = """
rules:
  - seriesQuery: 'http_requests_total{namespace!="",pod!=""}'
    name: {matches: "^(.*)_total$", as: "${1}_per_second"}
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[5s])) by (<<.GroupBy>>)'
"""
STARTED = time.time()


@pytest.fixture
async def exporter(client: ApiClient) -> AsyncIterator[int]:
    """Overrides test_custom_metrics' exporter: a counter per live pod of app=web, 30 a second."""

    async def metrics(request: web.Request) -> web.Response:
        pods = (await client.list(pod_pb2.Pod, "default", label_selector="app=web")).items
        rows = [f'http_requests_total{{namespace="default",pod="{p.metadata.name}"}} {30 * (time.time() - STARTED):.1f}'
                for p in pods]  # fmt: skip
        return web.Response(text="\n".join(rows) + "\n")

    async with serve_exporter(metrics) as port:
        yield port


@contextlib.asynccontextmanager
async def kubelet(client: ApiClient) -> AsyncIterator[None]:
    """Pods become Running and Ready (a custom metric does not depend on readiness, but Deployments do)."""

    async def run() -> None:
        while True:
            for pod in (await client.list(pod_pb2.Pod, "default")).items:
                if pod.status.phase == "Running" or pod.metadata.HasField("deletion_timestamp"):
                    continue
                pod.status.phase = "Running"
                pod.status.start_time.FromSeconds(int(time.time()))
                pod.status.conditions.add(type="Ready", status="True").last_transition_time.FromSeconds(
                    int(time.time())
                )
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await client.update_status(pod)
            await asyncio.sleep(0.2)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_hpa_on_a_prometheus_metric(client: ApiClient, prometheus: str, tmp_path: Path) -> None:  # noqa: F811
    (tmp_path / "rules.yaml").write_text(RULES)
    metrics = MetricsServer(
        client,
        MetricsConfig(
            listen="127.0.0.1:0", prometheus_url=prometheus, custom_metrics_rules=str(tmp_path / "rules.yaml")
        ),
    )
    await metrics.start()
    config = ControllersConfig(
        metrics_api_server=f"http://127.0.0.1:{metrics.port}", horizontal_pod_autoscaler_sync_period=1.0
    )
    manager = ControllerManager(client, ["replicaset", "deployment", "horizontalpodautoscaler"], config=config)
    await manager.start()
    try:
        d = apps_pb2.Deployment(metadata=meta_pb2.ObjectMeta(name="web", namespace="default"))
        d.spec.replicas = 1
        d.spec.selector.match_labels["app"] = "web"
        d.spec.template.metadata.labels["app"] = "web"
        d.spec.template.spec.containers.add(name="c", image="busybox")
        await client.create(d)
        h = hpa_pb2.HorizontalPodAutoscaler(metadata=meta_pb2.ObjectMeta(name="web", namespace="default"))
        ref = h.spec.scale_target_ref
        ref.api_version, ref.kind, ref.name = "apps/v1", "Deployment", "web"
        h.spec.min_replicas, h.spec.max_replicas = 1, 3
        m = h.spec.metrics.add(type="Pods")
        m.pods.metric.name = "http_requests_per_second"
        m.pods.target.type = "AverageValue"
        m.pods.target.average_value.value = "10"
        async with kubelet(client):
            await client.create(h)

            async def scaled() -> Any:
                got = await client.get(apps_pb2.Deployment, "web", "default")
                return got if got.spec.replicas == 3 else None

            await eventually(scaled, "the HPA scaling web to 3 on requests per second", within=120)
        events = [(e.reason, e.message) for e in (await client.list(event_pb2.Event, "default")).items
                  if e.involved_object.name == "web" and e.reason == "SuccessfulRescale"]  # fmt: skip
        assert any("pods metric http_requests_per_second above target" in msg for _, msg in events), events
        got = await client.get(hpa_pb2.HorizontalPodAutoscaler, "web", "default")
        (status,) = got.status.current_metrics
        assert status.type == "Pods" and status.pods.metric.name == "http_requests_per_second"
    finally:
        await manager.stop()
        await metrics.stop()
