"""`kubectl rollout` (real kubectl 1.33, over the REST port) against a real local cluster: the documented
way to update and roll back a Deployment and a DaemonSet (concepts/workloads/controllers/deployment,
tasks/manage-daemon/rollback-daemon-set).

The Deployment goes through `set image`, `rollout status`, `rollout history` and `rollout undo`, which
reads ReplicaSet revisions; the DaemonSet through the same commands, which read its ControllerRevisions
(`rollout undo` sends the revision's strategic merge patch). The manifests are the docs', with
busybox standing in for images the local registry does not have.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from skiff_cli import kubeconfig
from skiff_cli.cluster.local import LocalCluster
from test_daemonset import DAEMONSET  # the docs' fluentd-elasticsearch, as test_daemonset.py applies it
from test_deployment import MANIFEST  # the docs' nginx-deployment, as test_deployment.py applies it

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


@pytest.fixture(scope="module")
def kubectl(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.33 is not installed")
    path = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.merge(cluster.layout.rest_url, cluster.tls["admin"], path)
    env = {**os.environ, "KUBECONFIG": str(path), "HOME": str(path.parent)}

    def run(*args: str, input: str | None = None) -> str:
        r = subprocess.run([str(KUBECTL), *args], capture_output=True, text=True, env=env, input=input, timeout=300)
        if r.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} ({r.returncode}): {r.stdout}\n{r.stderr}")
        return r.stdout

    return run


def _images(kubectl, selector: str, *ns: str) -> set[str]:  # type: ignore[no-untyped-def]
    pods = json.loads(kubectl("get", "pods", *ns, "-l", selector, "-o", "json"))["items"]
    return {p["spec"]["containers"][0]["image"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def _history_revisions(out: str) -> list[str]:
    """The REVISION column of `kubectl rollout history`."""
    return [line.split()[0] for line in out.splitlines()[2:] if line.strip()]


def test_deployment_set_image_history_and_undo(kubectl, skiff) -> None:  # type: ignore[no-untyped-def]
    kubectl("apply", "-f", "-", input=MANIFEST.format(image="busybox"))
    kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=180s")
    kubectl("set", "image", "deployment/nginx-deployment", "nginx=busybox:1.36")
    kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=240s")
    assert _images(kubectl, "app=nginx") == {"busybox:1.36"}
    assert _history_revisions(kubectl("rollout", "history", "deployment/nginx-deployment")) == ["1", "2"]
    assert "rolled back" in kubectl("rollout", "undo", "deployment/nginx-deployment")
    kubectl("rollout", "status", "deployment/nginx-deployment", "--timeout=240s")
    skiff.wait_for("only busybox pods", lambda: _images(kubectl, "app=nginx") == {"busybox"}, timeout=120)
    assert _history_revisions(kubectl("rollout", "history", "deployment/nginx-deployment")) == ["2", "3"]
    kubectl("delete", "deployment", "nginx-deployment", "--wait=true")


def test_daemonset_set_image_history_and_undo(kubectl, skiff) -> None:  # type: ignore[no-untyped-def]
    ns = ("-n", "kube-system")
    ds = "daemonset/fluentd-elasticsearch"
    kubectl("apply", "-f", "-", input=DAEMONSET)
    kubectl("rollout", "status", ds, *ns, "--timeout=180s")
    kubectl("set", "image", ds, "fluentd-elasticsearch=busybox:1.36", *ns)
    kubectl("rollout", "status", ds, *ns, "--timeout=180s")
    assert _images(kubectl, "name=fluentd-elasticsearch", *ns) == {"busybox:1.36"}
    revisions = json.loads(kubectl("get", "controllerrevisions", *ns, "-l", "name=fluentd-elasticsearch", "-o", "json"))
    assert sorted(r["revision"] for r in revisions["items"]) == [1, 2]
    assert _history_revisions(kubectl("rollout", "history", ds, *ns)) == ["1", "2"]
    detail = kubectl("rollout", "history", ds, *ns, "--revision=1")
    assert "busybox" in detail and "busybox:1.36" not in detail, detail
    assert "rolled back" in kubectl("rollout", "undo", ds, *ns)
    kubectl("rollout", "status", ds, *ns, "--timeout=180s")
    skiff.wait_for(
        "the daemon pod back on busybox",
        lambda: _images(kubectl, "name=fluentd-elasticsearch", *ns) == {"busybox"},
        timeout=120,
    )
    assert _history_revisions(kubectl("rollout", "history", ds, *ns)) == ["2", "3"]
    kubectl("delete", ds, *ns, "--wait=true")
    skiff.wait_for(
        "the daemon pod collected",
        lambda: not json.loads(kubectl("get", "pods", *ns, "-l", "name=fluentd-elasticsearch", "-o", "json"))["items"],
        timeout=120,
    )
