"""Issue 11 on a real `skiff up` cluster: Secrets are ciphertext in etcd (read with etcdctl and the
apiserver's own etcd certificate), kubectl shows the baseline Pod Security warning, and every request is
in the audit log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
ETCDCTL = Path(sys.executable).parent / "etcdctl"


@pytest.fixture(scope="module")
def kubectl(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not KUBECTL.exists():
        pytest.skip(f"{KUBECTL} is not installed")
    path = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.merge(cluster.layout.rest_url, cluster.tls["admin"], path)
    env = {**os.environ, "KUBECONFIG": str(path), "HOME": str(path.parent)}

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, input=stdin, timeout=60)

    return run


def test_secret_is_encrypted_in_etcd(cluster: LocalCluster, kubectl) -> None:  # type: ignore[no-untyped-def]
    out = kubectl("create", "secret", "generic", "e2e-db", "--from-literal=password=plaintext-e2e-value")
    assert out.returncode == 0, out.stderr
    assert kubectl("get", "secret", "e2e-db", "-o", "jsonpath={.data.password}").stdout  # readable through the API
    tls = cluster.etcd_tls["apiserver-client"]
    raw = subprocess.run(
        [str(ETCDCTL), f"--endpoints=https://{cluster.layout.etcd_endpoint}", f"--cacert={tls.ca_file}",
         f"--cert={tls.cert_file}", f"--key={tls.key_file}", "get", "/registry/secrets/default/e2e-db",
         "--print-value-only"],
        capture_output=True, timeout=30,
    )  # fmt: skip
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert b"plaintext-e2e-value" not in raw.stdout and b"password" not in raw.stdout


def test_baseline_warning_and_audit(cluster: LocalCluster, kubectl) -> None:  # type: ignore[no-untyped-def]
    manifest = json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "e2e-hostpath"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}],
                 "volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
    })  # fmt: skip
    out = kubectl("create", "--dry-run=server", "-f", "-", stdin=manifest)
    assert out.returncode == 0, out.stderr
    assert 'Warning: would violate PodSecurity "baseline:latest": hostPath volumes (volume "root")' in out.stderr
    log = cluster.layout.state_dir / "audit" / "audit.log"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    mine = [e for e in events if e.get("objectRef", {}).get("name") == "e2e-db" or (
        e.get("objectRef", {}).get("resource") == "secrets" and e["verb"] == "create")]  # fmt: skip
    assert mine and all(e["level"] == "Metadata" and "requestObject" not in e for e in mine)
