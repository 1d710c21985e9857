"""Cluster DNS end to end: a pod asks skiff-dns directly on its bridge's gateway, the address the kube-dns
Endpoints name (what skiff-proxy sends 10.96.0.10 to). The full path by name, through the pod's
resolv.conf and the kube-dns ClusterIP, is in test_my_nginx.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

MANIFESTS = """
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  ports:
    - {name: http, port: 80, protocol: TCP}
---
apiVersion: v1
kind: Pod
metadata:
  name: asker
spec:
  containers:
    - name: asker
      image: busybox
      command: ["sleep", "3600"]
"""


def test_a_pod_resolves_a_service_through_skiff_dns(skiff, cluster: LocalCluster, tmp_path: Path) -> None:
    kube_dns = skiff.get_json("service", "kube-dns", "-n", "kube-system")
    assert kube_dns["spec"]["clusterIP"] == "10.96.0.10"
    endpoints = skiff.get_json("endpoints", "kube-dns", "-n", "kube-system")
    gateway = cluster.layout.pod_gateway
    assert [a["ip"] for a in endpoints["subsets"][0]["addresses"]] == [gateway]

    manifest = tmp_path / "dns.yaml"
    manifest.write_text(MANIFESTS)
    skiff("apply", "-f", str(manifest))
    cluster_ip = skiff.get_json("service", "web")["spec"]["clusterIP"]
    skiff.wait_for("the pod to be Running", lambda: skiff.get_json("pod", "asker")["status"].get("phase") == "Running")
    try:
        answer = skiff.wait_for(
            "the pod's DNS answer",
            lambda: (
                (
                    out := skiff(
                        "exec", "asker", "--", "nslookup", "web.default.svc.cluster.local", gateway, check=False
                    )
                ).returncode
                == 0
                and out.stdout
            ),
        )
        assert cluster_ip in answer, answer
        missing = skiff("exec", "asker", "--", "nslookup", "nope.default.svc.cluster.local", gateway, check=False)
        assert missing.returncode != 0 and "NXDOMAIN" in missing.stdout + missing.stderr, missing
    finally:
        skiff("delete", "pod", "asker", check=False)
        skiff("delete", "service", "web", check=False)
