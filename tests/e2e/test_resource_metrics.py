"""Resource metrics end to end: kubelet /metrics/resource -> skiff-metrics -> the apiserver's aggregated
metrics.k8s.io -> `skiff top` and the real `kubectl top` (1.33), on a real local cluster with a pod that
burns CPU under a 300m limit; who may read the kubelet's stats port and the aggregated metrics API."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient

pytestmark = [pytest.mark.e2e, pytest.mark.root]
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
BURNER = """
apiVersion: v1
kind: Pod
metadata:
  name: burner
  labels: {app: burner}
spec:
  containers:
    - name: burn
      image: busybox
      command: ["sh", "-c", "while :; do :; done"]
      resources: {limits: {cpu: 300m, memory: 64Mi}}
    - name: idle
      image: busybox
      command: ["sleep", "3600"]
"""


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.merge(cluster.layout.rest_url, cluster.tls["admin"], path)
    old = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = str(path)  # skiff top finds the REST endpoint there, as kubectl does
    yield path
    if old is None:
        os.environ.pop("KUBECONFIG", None)
    else:
        os.environ["KUBECONFIG"] = old


def millicores(text: str) -> int:
    return int(text.rstrip("m"))


def test_top_pods_and_nodes(skiff: Any, cluster: LocalCluster, kube: Path) -> None:
    skiff("apply", "-f", "-", input=BURNER)
    try:

        def busy() -> list[str] | None:
            r = skiff("top", "pods", "-l", "app=burner", check=False)
            rows = [line.split() for line in r.stdout.splitlines()[1:]]
            return rows[0] if r.returncode == 0 and rows and millicores(rows[0][1]) >= 100 else None

        row = skiff.wait_for("the burner's CPU in skiff top pods", busy, timeout=120)
        assert row[0] == "burner" and row[2].endswith("Mi")
        # The CFS quota holds the container near its 300m limit; the idle container adds next to nothing.
        assert millicores(row[1]) <= 450
        out = skiff("top", "pods", "--containers", "--sort-by=cpu").stdout.splitlines()
        assert out[0].split() == ["POD", "NAME", "CPU(cores)", "MEMORY(bytes)"]
        rows = [line.split() for line in out[1:] if line.startswith("burner")]
        assert [r[1] for r in rows] == ["burn", "idle"] and millicores(rows[1][2]) < 50
        nodes = skiff("top", "nodes").stdout.splitlines()
        assert nodes[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
        node = nodes[1].split()
        assert node[0] == cluster.layout.node_name and millicores(node[1]) >= 100 and re.fullmatch(r"\d+%", node[2])
        missing = skiff("top", "pods", "nope", check=False)
        assert missing.returncode != 0 and "not found" in missing.stderr

        if not KUBECTL.exists():
            pytest.skip("kubectl 1.33 is not installed")
        env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
        kubectl = subprocess.run(
            [str(KUBECTL), "top", "pod", "burner", "--containers"], capture_output=True, text=True, env=env, timeout=60
        )
        assert kubectl.returncode == 0, kubectl.stderr
        assert [line.split()[1] for line in kubectl.stdout.splitlines()[1:]] == ["burn", "idle"]
        kubectl = subprocess.run([str(KUBECTL), "top", "node"], capture_output=True, text=True, env=env, timeout=60)
        assert kubectl.returncode == 0 and cluster.layout.node_name in kubectl.stdout, kubectl.stderr
    finally:
        skiff("delete", "pod", "burner", check=False)


def _https(url: str, ca: Path, tls: Any = None, token: str = "") -> int:
    """The status of a GET with the cluster CA trusted and, if given, a client certificate or a token."""
    context = ssl.create_default_context(cafile=str(ca))
    if tls is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, context=context, timeout=30) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


def test_kubelet_stats_port_authorizes_its_callers(cluster: LocalCluster) -> None:
    """The kubelet's stats port as the real kubelet's 10250: HTTPS with its serving certificate (checked
    against the cluster CA at 127.0.0.1), nobody without an identity, and each identity only what its
    default role grants (nodes/metrics for metrics-server and Prometheus, nodes/stats for neither)."""
    base, ca = f"https://{cluster.layout.metrics_address('kubelet')}", cluster.layout.pki_dir / "ca.crt"
    tls = cluster.tls
    assert _https(f"{base}/metrics/resource", ca) == 401
    assert _https(f"{base}/healthz", ca) == 200
    assert _https(f"{base}/metrics/resource", ca, tls["scheduler"]) == 403
    assert _https(f"{base}/metrics/resource", ca, tls["metrics"]) == 200  # system:metrics-server
    assert _https(f"{base}/metrics/cadvisor", ca, tls["prometheus"]) == 200  # kube-prometheus's prometheus-k8s
    assert _https(f"{base}/stats/summary", ca, tls["metrics"]) == 403
    assert _https(f"{base}/stats/summary", ca, tls["prometheus"]) == 403
    assert _https(f"{base}/stats/summary", ca, tls["apiserver-kubelet-client"]) == 200  # kubelet-api-admin


def test_hpa_reads_metrics_as_its_service_account(cluster: LocalCluster) -> None:
    """metrics.k8s.io through the apiserver's aggregator is authorized per caller: the HPA's ServiceAccount
    (system:controller:horizontal-pod-autoscaler) may list pod metrics, another controller's may not."""

    async def tokens() -> dict[str, str]:
        async with ApiClient.connect(cluster.layout.apiserver_address, tls=cluster.tls["admin"]) as admin:
            out = {}
            for sa in ("horizontal-pod-autoscaler", "replicaset-controller"):
                req = an.TokenRequest()
                req.metadata.name, req.metadata.namespace = sa, "kube-system"
                out[sa] = str((await admin.create(req)).status.token)
            return out

    got = asyncio.run(tokens())
    url = f"{cluster.layout.rest_url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods"
    ca = cluster.layout.pki_dir / "ca.crt"
    assert _https(url, ca, token=got["horizontal-pod-autoscaler"]) == 200
    assert _https(url, ca, token=got["replicaset-controller"]) == 403
