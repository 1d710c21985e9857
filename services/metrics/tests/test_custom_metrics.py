"""custom.metrics.k8s.io from a real Prometheus (Debian's `prometheus`): it scrapes a counter per pod
from a small exporter every second; skiff-metrics, with a prometheus-adapter rule turning
`http_requests_total` into `http_requests_per_second`, answers per-pod rates for the pods its informer
holds (label selectors honoured)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common.apimachinery.labels import EVERYTHING
from skiff_metrics.app import MetricsServer
from skiff_metrics.config import MetricsConfig
from skiff_metrics.rules import load_rules, object_query

pytestmark = pytest.mark.etcd
RULES = """
rules:
  - seriesQuery: 'http_requests_total{namespace!="",pod!=""}'
    name: {matches: "^(.*)_total$", as: "${1}_per_second"}
    metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[10s])) by (<<.GroupBy>>)'
"""
STARTED = time.time()


def quantity(text: str) -> float:
    return float(text[:-1]) / 1000 if text.endswith("m") else float(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rules_render_prometheus_adapter_templates(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES)
    (rule,) = load_rules(str(tmp_path / "rules.yaml")).custom
    assert (rule.series, rule.name) == ("http_requests_total", "http_requests_per_second")
    assert object_query(rule, "default", "pods", ["web-1", "web.0"], EVERYTHING) == (
        'sum(rate(http_requests_total{namespace="default",pod=~"web\\\\-1|web\\\\.0"}[10s])) by (pod)'
    )
    (tmp_path / "bad.yaml").write_text("rules: [{seriesQuery: '{pod!=\"\"}'}]")
    with pytest.raises(ValueError, match=r"rules\[0\].seriesQuery"):
        load_rules(str(tmp_path / "bad.yaml"))


async def exporter_metrics(request: web.Request) -> web.Response:
    """web-0 serves 10 requests a second, web-1 30, other-0 (another app) 5."""
    elapsed = time.time() - STARTED
    lines = [
        f'http_requests_total{{namespace="default",pod="{pod}"}} {rate * elapsed:.1f}'
        for pod, rate in (("web-0", 10), ("web-1", 30), ("other-0", 5))
    ]
    return web.Response(text="\n".join(lines) + "\n")


@pytest.fixture
async def exporter() -> AsyncIterator[int]:
    async with serve_exporter(exporter_metrics) as port:
        yield port


@contextlib.asynccontextmanager
async def serve_exporter(handler: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[int]:
    """A Prometheus exporter on 127.0.0.1 serving `handler` at /metrics; yields its port."""
    app = web.Application()
    app.router.add_get("/metrics", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


@pytest.fixture
def prometheus(exporter: int, tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: pods\n    honor_labels: true\n    static_configs: [{{targets: ['127.0.0.1:{exporter}']}}]\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


async def test_pod_rates_from_prometheus(client: ApiClient, prometheus: str, tmp_path: Path) -> None:
    for name, app in (("web-0", "web"), ("web-1", "web"), ("other-0", "other")):
        pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name=name, namespace="default", labels={"app": app}))
        pod.spec.containers.add(name="c", image="busybox")
        await client.create(pod)
    (tmp_path / "rules.yaml").write_text(RULES)
    cfg = MetricsConfig(
        listen="127.0.0.1:0", prometheus_url=prometheus, custom_metrics_rules=str(tmp_path / "rules.yaml")
    )
    server = MetricsServer(client, cfg)
    await server.start()
    base = f"http://127.0.0.1:{server.port}/apis/custom.metrics.k8s.io/v1beta1"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(base) as resp:
                assert [r["name"] for r in (await resp.json())["resources"]] == ["pods/http_requests_per_second"]

            async def rates() -> dict[str, float] | None:
                url = f"{base}/namespaces/default/pods/*/http_requests_per_second?labelSelector=app%3Dweb"
                async with http.get(url) as resp:
                    if resp.status != 200:
                        return None
                    items = (await resp.json())["items"]
                got = {i["describedObject"]["name"]: quantity(i["value"]) for i in items}
                # rate() over [10s] reads low until ten seconds of samples exist: wait for a full window.
                return got if set(got) == {"web-0", "web-1"} and got["web-0"] >= 8 else None

            got = await eventually(rates, "per-pod request rates from Prometheus")
            assert got["web-0"] == pytest.approx(10, rel=0.3) and got["web-1"] == pytest.approx(30, rel=0.3)
            async with http.get(f"{base}/namespaces/default/pods/web-0/nope") as resp:
                assert resp.status == 404
    finally:
        await server.stop()
        for name in ("web-0", "web-1", "other-0"):
            await client.delete(pod_pb2.Pod, name, "default")
            await asyncio.sleep(0)
