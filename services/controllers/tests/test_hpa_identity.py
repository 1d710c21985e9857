"""The HPA reads metrics.k8s.io as its ServiceAccount under --use-service-account-credentials, as
Kubernetes' HPA does: a real apiserver with Node,RBAC aggregates metrics.k8s.io from a small backend that
records who the apiserver says is asking (X-Remote-User), and authorizes the read by
system:controller:horizontal-pod-autoscaler, not by the controller manager's certificate."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from skiff_client import ApiClient

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "services" / "apiserver" / "tests"))

from authz_testlib import start_secure
from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig
from skiff_controllers.credentials import ServiceAccountCredentials
from skiff_controllers.horizontalpodautoscaler.metrics_client import ResourceMetricsClient
from skiff_controllers.horizontalpodautoscaler.replicas import MetricsError

pytestmark = pytest.mark.etcd
HPA = "horizontal-pod-autoscaler"
POD_METRICS = {
    "kind": "PodMetricsList",
    "apiVersion": "metrics.k8s.io/v1beta1",
    "items": [
        {
            "metadata": {"name": "p", "namespace": "default"},
            "timestamp": "2026-12-04T00:00:00Z",
            "window": "15s",
            "containers": [{"name": "c", "usage": {"cpu": "100m", "memory": "1Mi"}}],
        }
    ],
}


class Backend:
    """metrics.k8s.io where skiff-metrics would serve it; remembers each caller the apiserver names."""

    def __init__(self) -> None:
        self.users: list[str] = []
        self.app = web.Application()
        self.app.router.add_get("/apis/metrics.k8s.io/v1beta1", self.discovery)
        self.app.router.add_get("/apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods", self.pods)

    async def discovery(self, request: web.Request) -> web.Response:
        resources = [{"name": "pods", "namespaced": True, "kind": "PodMetrics", "verbs": ["get", "list"]}]
        return web.json_response({"kind": "APIResourceList", "groupVersion": "metrics.k8s.io/v1beta1",
                                  "resources": resources})  # fmt: skip

    async def pods(self, request: web.Request) -> web.Response:
        self.users.append(request.headers.get("X-Remote-User", ""))
        return web.json_response(POD_METRICS)


@pytest.fixture
async def backend() -> AsyncIterator[tuple[Backend, str]]:
    b = Backend()
    runner = web.AppRunner(b.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield b, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_hpa_reads_metrics_as_its_service_account(etcd, tmp_path: Path, backend) -> None:  # type: ignore[no-untyped-def]
    metrics_api, url = backend
    cluster = await start_secure(etcd.endpoint, tmp_path, aggregated_apis=f"metrics.k8s.io/v1beta1={url}")
    manager_tls = cluster.cert("system:kube-controller-manager")
    root = ApiClient.connect(cluster.target, tls=manager_tls)
    creds = ServiceAccountCredentials(root)
    cfg = ControllersConfig(
        metrics_api_server=cluster.rest_url,
        tls_ca_file=manager_tls.ca_file,
        tls_cert_file=manager_tls.cert_file,
        tls_key_file=manager_tls.key_file,
    )
    manager = ControllerManager(root, ["horizontalpodautoscaler"], config=cfg, credentials=creds)
    other = creds.token("replicaset-controller")
    try:
        await creds.prepare()
        hpa = manager.controllers["horizontalpodautoscaler"]
        items = await hpa.metrics.pod_metrics("default", "")
        assert [i["metadata"]["name"] for i in items] == ["p"]
        assert metrics_api.users == [f"system:serviceaccount:kube-system:{HPA}"]
        # another controller's ServiceAccount may not read metrics.k8s.io: RBAC, not the backend, decides
        with pytest.raises(MetricsError, match="forbidden"):
            await ResourceMetricsClient(cluster.rest_url, manager_tls, token=other).pod_metrics("default", "")
        # without the flag the manager's certificate is presented, and the read is the manager's
        await ResourceMetricsClient(cluster.rest_url, manager_tls).pod_metrics("default", "")
        assert metrics_api.users[1:] == ["system:kube-controller-manager"]
    finally:
        await creds.stop()
        await root.close()
        await cluster.close()
