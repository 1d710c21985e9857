"""Kubernetes' HorizontalPodAutoscaler walkthrough on a real local cluster: a php-apache-like Deployment
whose pods burn CPU per HTTP request (busybox httpd + a CGI shell loop, from Debian's busybox-static, as
the local busybox image is built), `skiff autoscale deployment php-apache --cpu-percent=50 --min=1
--max=10`, a load generator pod calling it through its Service, scale-out, then scale-in after a
shortened scale-down stabilization window once the load stops."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: php-apache}
spec:
  selector: {matchLabels: {run: php-apache}}
  template:
    metadata: {labels: {run: php-apache}}
    spec:
      containers:
        - name: php-apache
          image: busybox
          ports: [{containerPort: 80}]
          resources: {limits: {cpu: 500m}, requests: {cpu: 200m}}
          command:
            - sh
            - -c
            - |
              mkdir -p /www/cgi-bin
              cat > /www/cgi-bin/burn <<'CGI'
              #!/bin/sh
              echo "Content-Type: text/plain"
              echo
              i=0
              while [ $i -lt 20000 ]; do i=$((i+1)); done
              echo OK!
              CGI
              chmod +x /www/cgi-bin/burn
              exec httpd -f -p 80 -h /www
---
apiVersion: v1
kind: Service
metadata: {name: php-apache, labels: {run: php-apache}}
spec:
  ports: [{port: 80}]
  selector: {run: php-apache}
"""
LOAD = """
apiVersion: v1
kind: Pod
metadata: {name: load-generator}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: load
      image: busybox
      command: ["sh", "-c", "while true; do wget -q -O- http://{ip}/cgi-bin/burn >/dev/null 2>&1; done"]
"""


@pytest.fixture(scope="module")
def kube(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kube-hpa") / "config"
    kubeconfig.merge(cluster.layout.rest_url, cluster.tls["admin"], path)
    yield path


def kubectl(kube: Path, *args: str) -> str:
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.33 is not installed")
    env = {**os.environ, "KUBECONFIG": str(kube), "HOME": str(kube.parent)}
    r = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, f"kubectl {' '.join(args)}: {r.stderr}"
    return r.stdout


def test_hpa_walkthrough(skiff: Any, cluster: LocalCluster, kube: Path) -> None:
    skiff("apply", "-f", "-", input=APP)
    try:
        out = skiff("autoscale", "deployment", "php-apache", "--cpu-percent=50", "--min=1", "--max=10").stdout
        assert out.strip() == "horizontalpodautoscaler.autoscaling/php-apache autoscaled"
        hpa = json.loads(kubectl(kube, "get", "hpa", "php-apache", "-o", "json"))
        assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"}
        assert hpa["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}
        # The walkthrough waits 5 minutes for the scale-down; shorten the window as its behavior allows.
        kubectl(kube, "patch", "hpa", "php-apache", "--type=merge",
                "-p", '{"spec":{"behavior":{"scaleDown":{"stabilizationWindowSeconds":15}}}}')  # fmt: skip

        def idle() -> dict[str, Any] | None:
            h = skiff.get_json("hpa", "php-apache")
            conds = {c["type"]: c["status"] for c in h.get("status", {}).get("conditions", [])}
            return h if conds.get("ScalingActive") == "True" and h["status"].get("currentReplicas") == 1 else None

        skiff.wait_for("the HPA to read metrics of the idle deployment", idle, timeout=180)
        ip = skiff.get_json("service", "php-apache")["spec"]["clusterIP"]
        started = time.monotonic()
        skiff("apply", "-f", "-", input=LOAD.replace("{ip}", ip))

        def scaled_out() -> int | None:
            replicas = skiff.get_json("deployment", "php-apache")["spec"]["replicas"]
            return replicas if replicas > 1 else None

        replicas = skiff.wait_for("scale-out under load", scaled_out, timeout=240)
        print(f"[bench] load start -> scale-out to {replicas}: {time.monotonic() - started:.1f}s")
        h = skiff.get_json("hpa", "php-apache")
        assert 1 < h["status"]["desiredReplicas"] <= 10
        events = skiff.get_json("events")["items"]
        assert any(
            e["reason"] == "SuccessfulRescale" and e["involvedObject"]["name"] == "php-apache"
            and "cpu resource utilization (percentage of request) above target" in e["message"]
            for e in events
        )  # fmt: skip
        assert "Deployment/php-apache" in kubectl(kube, "get", "hpa", "php-apache")

        skiff("delete", "pod", "load-generator")
        stopped = time.monotonic()

        def scaled_in() -> bool:
            return bool(skiff.get_json("deployment", "php-apache")["spec"]["replicas"] == 1)

        skiff.wait_for("scale-in after the load stops", scaled_in, timeout=300)
        print(f"[bench] load stop -> scale-in to 1: {time.monotonic() - stopped:.1f}s")
        events = skiff.get_json("events")["items"]
        assert any(e["reason"] == "SuccessfulRescale" and "All metrics below target" in e["message"] for e in events)
    finally:
        skiff("delete", "pod", "load-generator", check=False)
        skiff("delete", "hpa", "php-apache", check=False)
        skiff("delete", "deployment", "php-apache", check=False)
        skiff("delete", "service", "php-apache", check=False)
