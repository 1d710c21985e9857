"""The HorizontalPodAutoscaler controller against a real etcd + apiserver, with the ReplicaSet and
Deployment controllers: the test plays the kubelet (pods Running and Ready, started long ago) and the
resource metrics API (PodMetrics at a level it sets), and the HPA scales the Deployment through its scale
subresource, reports conditions, currentMetrics and Events as Kubernetes does."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
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
from skiff_common.apimachinery.labels import parse_selector
from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig

pytestmark = pytest.mark.etcd
NS = "default"


class MetricsApi:
    """Serves PodMetrics where skiff-metrics would: every pod of the namespace at `level` millicores."""

    def __init__(self, client: ApiClient) -> None:
        self.client, self.level = client, 0
        self.app = web.Application()
        self.app.router.add_get("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods", self.pods)

    async def pods(self, request: web.Request) -> web.Response:
        selector = parse_selector(request.query.get("labelSelector", ""))
        pods = (await self.client.list(pod_pb2.Pod, request.match_info["ns"])).items
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        items = [
            {"metadata": {"name": p.metadata.name, "namespace": p.metadata.namespace}, "timestamp": stamp,
             "window": "15s", "containers": [{"name": "c", "usage": {"cpu": f"{self.level}m", "memory": "1Mi"}}]}
            for p in pods if selector.matches(p.metadata.labels) and not p.metadata.HasField("deletion_timestamp")
        ]  # fmt: skip
        return web.json_response({"kind": "PodMetricsList", "items": items})


@pytest.fixture
async def metrics(client: ApiClient) -> AsyncIterator[tuple[MetricsApi, int]]:
    api = MetricsApi(client)
    runner = web.AppRunner(api.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield api, port
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def kubelet(client: ApiClient) -> AsyncIterator[None]:
    """Pods become Running and Ready, started ten minutes ago (past the CPU initialization period)."""

    async def run() -> None:
        while True:
            for pod in (await client.list(pod_pb2.Pod, NS)).items:
                if pod.status.phase == "Running" or pod.metadata.HasField("deletion_timestamp"):
                    continue
                pod.status.phase = "Running"
                pod.status.start_time.FromSeconds(int(time.time()) - 600)
                cond = pod.status.conditions.add(type="Ready", status="True")
                cond.last_transition_time.FromSeconds(int(time.time()) - 590)
                with contextlib.suppress(errors.NotFound, errors.Conflict):
                    await client.update_status(pod)
            await asyncio.sleep(0.1)

    task = asyncio.create_task(run())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def manager(client: ApiClient, metrics: tuple[MetricsApi, int]) -> AsyncIterator[ControllerManager]:
    config = ControllersConfig(
        metrics_api_server=f"http://127.0.0.1:{metrics[1]}", horizontal_pod_autoscaler_sync_period=0.5
    )
    m = ControllerManager(client, ["replicaset", "deployment", "horizontalpodautoscaler"], config=config)
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


def deployment(name: str, replicas: int) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment(metadata=meta_pb2.ObjectMeta(name=name, namespace=NS))
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    c = d.spec.template.spec.containers.add(name="c", image="busybox")
    c.resources.requests["cpu"].value = "100m"
    return d


def hpa(name: str, target: str, max_replicas: int = 5) -> hpa_pb2.HorizontalPodAutoscaler:
    h = hpa_pb2.HorizontalPodAutoscaler(metadata=meta_pb2.ObjectMeta(name=name, namespace=NS))
    h.spec.scale_target_ref.api_version, h.spec.scale_target_ref.kind = "apps/v1", "Deployment"
    h.spec.scale_target_ref.name = target
    h.spec.min_replicas, h.spec.max_replicas = 1, max_replicas
    m = h.spec.metrics.add(type="Resource")
    m.resource.name = "cpu"
    m.resource.target.type = "Utilization"
    m.resource.target.average_utilization = 50
    return h


def conditions(h: hpa_pb2.HorizontalPodAutoscaler) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in h.status.conditions}


async def events_of(client: ApiClient, name: str) -> list[tuple[str, str]]:
    items = (await client.list(event_pb2.Event, NS)).items
    return [(e.reason, e.message) for e in items if e.involved_object.name == name]


async def test_scale_out_then_in(client: ApiClient, manager: Any, metrics: tuple[MetricsApi, int]) -> None:
    api, _ = metrics
    await client.create(deployment("web", 2))
    api.level = 200  # 200 % of the 100m request, target 50 %: ratio 4
    async with kubelet(client):
        await client.create(hpa("web", "web", max_replicas=4))

        async def scaled(n: int) -> apps_pb2.Deployment | None:
            d = await client.get(apps_pb2.Deployment, "web", NS)
            return d if d.spec.replicas == n else None

        # ceil(4 x 2) = 8, limited to maxReplicas 4 (and to max(2 x current, 4) = 4 without a behavior).
        await eventually(lambda: scaled(4), "the HPA scales web to 4")

        async def status() -> hpa_pb2.HorizontalPodAutoscaler | None:
            h = await client.get(hpa_pb2.HorizontalPodAutoscaler, "web", NS)
            ok = h.status.current_replicas == h.status.desired_replicas == 4 and h.status.current_metrics
            return h if ok and conditions(h).get("ScalingLimited") == ("True", "TooManyReplicas") else None

        h = await eventually(status, "the HPA status after the rescale")
        got = conditions(h)
        assert got["AbleToScale"][0] == "True" and got["ScalingActive"] == ("True", "ValidMetricFound")
        metric = h.status.current_metrics[0]
        assert metric.type == "Resource" and metric.resource.name == "cpu"
        assert (
            metric.resource.current.average_utilization == 200 and metric.resource.current.average_value.value == "200m"
        )
        assert h.status.HasField("last_scale_time")
        rescales = [m for r, m in await events_of(client, "web") if r == "SuccessfulRescale"]
        assert "New size: 4; reason: cpu resource utilization (percentage of request) above target" in rescales

        # Load gone: with a zero scale-down window the default policy (100 % per 15 s) allows going to
        # ceil(0.2 x 4) = 1 at once.
        api.level = 10
        for _ in range(20):
            h = await client.get(hpa_pb2.HorizontalPodAutoscaler, "web", NS)
            h.spec.behavior.scale_down.stabilization_window_seconds = 0
            try:
                await client.update(h)
                break
            except errors.Conflict:
                await asyncio.sleep(0.05)
        await eventually(lambda: scaled(1), "the HPA scales web in to 1")
        rescales = [m for r, m in await events_of(client, "web") if r == "SuccessfulRescale"]
        assert "New size: 1; reason: All metrics below target" in rescales


async def test_missing_target_and_metrics(client: ApiClient, manager: Any, metrics: tuple[MetricsApi, int]) -> None:
    await client.create(hpa("ghost", "no-such-deployment"))

    async def failed_get_scale() -> hpa_pb2.HorizontalPodAutoscaler | None:
        h = await client.get(hpa_pb2.HorizontalPodAutoscaler, "ghost", NS)
        return h if conditions(h).get("AbleToScale") == ("False", "FailedGetScale") else None

    await eventually(failed_get_scale, "AbleToScale False FailedGetScale")

    # A target whose pods have no CPU request: ScalingActive False with Kubernetes' reason and message.
    d = deployment("norequest", 1)
    d.spec.template.spec.containers[0].resources.ClearField("requests")
    await client.create(d)
    metrics[0].level = 50
    async with kubelet(client):
        await client.create(hpa("norequest", "norequest"))

        async def inactive() -> hpa_pb2.HorizontalPodAutoscaler | None:
            h = await client.get(hpa_pb2.HorizontalPodAutoscaler, "norequest", NS)
            active = [c for c in h.status.conditions if c.type == "ScalingActive"]
            return h if active and "missing request" in active[0].message else None

        h = await eventually(inactive, "ScalingActive False FailedGetResourceMetric")
        (active,) = [c for c in h.status.conditions if c.type == "ScalingActive"]
        assert (active.status, active.reason) == ("False", "FailedGetResourceMetric")
        assert active.message == (
            "the HPA was unable to compute the replica count: missing request for cpu in container c of Pod "
            + (await client.list(pod_pb2.Pod, NS, label_selector="app=norequest")).items[0].metadata.name
        )
