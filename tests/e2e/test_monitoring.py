"""Real Prometheus against a live cluster: the shipped scrape configuration finds every component, every
query of every shipped dashboard returns data, and an alert fires when its condition is made true (a
frozen kubelet makes KubeNodeNotReady fire).

The test rewrites only what a live test must: the targets' ports (the test cluster runs on free ports)
and its pki directory (the kubelet's stats port is HTTPS and authorizes Prometheus's certificate), a 1 s
scrape interval, and every rule's `for:` shortened to 0 s so that "fires when the condition holds"
does not take 15 minutes (the `for:` durations themselves are covered by promtool's unit tests).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import dns.resolver
import pytest
import yaml
from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import free_port
from skiff_cli.cluster.local import LocalCluster

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))
from monitoring_files import DASHBOARDS, PROMETHEUS_CONFIG, RULES, panel_queries
from polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.root]

# Prometheus job -> the local cluster's component (its metrics port).
JOB_COMPONENTS = {
    "apiserver": "apiserver",
    "kube-scheduler": "scheduler",
    "kube-controller-manager": "controllers",
    "kubelet": "kubelet",
    "kubelet-cadvisor": "kubelet",
    "skiff-runtime": "runtime",
    "kube-proxy": "proxy",
    "coredns": "dns",
}
POD = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: watched
spec:
  replicas: 1
  selector: {matchLabels: {app: watched}}
  template:
    metadata: {labels: {app: watched}}
    spec:
      containers:
        - name: c
          image: busybox
          command: ["sleep", "3600"]
"""


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=10) as response:
            return json.loads(response.read())["data"]

    def query(self, expr: str) -> list[dict]:
        return self.get("/api/v1/query", query=expr)["result"]


def live_config(cluster: LocalCluster, rules_dir: Path) -> dict:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(rules_dir / "*.rules.yml")]
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [cluster.layout.metrics_address(JOB_COMPONENTS[job["job_name"]])]
        tls = job.get("tls_config", {})  # the kubelet jobs' certificates, from this cluster's pki directory
        for key in ("ca_file", "cert_file", "key_file"):
            if key in tls:
                tls[key] = str(cluster.layout.pki_dir / Path(tls[key]).name)
    return config


@pytest.fixture
def prometheus(cluster: LocalCluster, tmp_path: Path) -> Iterator[Prometheus]:
    rules_dir = tmp_path / "rules"
    rules_dir.mkdir()
    for path in RULES:
        (rules_dir / path.name).write_text(re.sub(r"(?m)^(\s*)for: \S+$", r"\1for: 0s", path.read_text()))
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(live_config(cluster, rules_dir)))
    port = free_port()
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),
    )
    try:
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wait(what: str, check, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    return wait_for(what, check, timeout, interval=1, tolerate=(OSError,))  # OSError: Prometheus still starting


def test_prometheus_scrapes_every_component_and_every_panel_has_data(skiff, cluster, prometheus, tmp_path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(POD)
    skiff("apply", "-f", str(manifest))

    def all_up() -> bool:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        return len(targets) == len(JOB_COMPONENTS) and all(t["health"] == "up" for t in targets)

    wait("every component scraped", all_up)
    resolver = dns.resolver.Resolver(configure=False)
    host, port = cluster.layout.dns_address.rsplit(":", 1)
    resolver.nameservers, resolver.port = [host], int(port)
    for _ in range(5):  # DNS panels need queries to show
        resolver.resolve("kubernetes.default.svc.cluster.local", "A")
    queries = [(path.stem, title, expr) for path in DASHBOARDS for title, expr in panel_queries(path)]

    def empty_panels() -> list[tuple[str, str, str]] | bool:
        missing = [q for q in queries if not prometheus.query(q[2])]
        return missing or True

    try:
        result = wait("data for every panel", lambda: empty_panels() is True, timeout=180)
    except AssertionError:
        result = False
    missing = empty_panels()
    assert result and missing is True, f"panels without data: {missing}"
    skiff("delete", "deployment", "watched")


def test_a_frozen_kubelet_fires_kube_node_not_ready(cluster, prometheus) -> None:  # type: ignore[no-untyped-def]
    def firing() -> list[dict]:
        alerts = prometheus.get("/api/v1/alerts")["alerts"]
        return [a for a in alerts if a["labels"]["alertname"] == "KubeNodeNotReady" and a["state"] == "firing"]

    wait("the node's Ready series scraped", lambda: prometheus.query('kube_node_status_condition{condition="Ready"}'))
    assert not firing()
    kubelet = processes.running_pid("kubelet", cluster.layout.pid_dir)
    assert kubelet is not None
    os.kill(kubelet, signal.SIGSTOP)  # the process stays, so the supervisor leaves it alone
    try:
        alerts = wait("KubeNodeNotReady firing", firing, timeout=180)
        assert alerts[0]["labels"]["node"] == cluster.layout.node_name
    finally:
        os.kill(kubelet, signal.SIGCONT)
    wait("the alert resolved once the kubelet is back", lambda: not firing(), timeout=180)
