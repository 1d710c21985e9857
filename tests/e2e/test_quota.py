"""LimitRange and ResourceQuota end to end on a real `skiff up` cluster, with real kubectl and the
Kubernetes docs' manifests unchanged (examples/quota/): "Configure Default Memory Requests and Limits for a
Namespace" (the three pods get the defaults the page shows) and "Configure Memory and CPU Quotas for a
Namespace" (the resourcequota controller fills the status, the first pod is charged, the second is refused
with Kubernetes' message, and deleting the first gives its usage back so the second fits), and "Configure a
Pod Quota for a Namespace" (a 3-replica Deployment held to 2 pods, the ReplicaSet's FailedCreate event).

The pods' images (nginx, redis) need not run: quota counts pods that are not terminal, running or not.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from polling import wait_for
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

KUBECTL = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "quota"


def kubectl(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([KUBECTL, *args], capture_output=True, text=True, timeout=60, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result


def get_json(*args: str) -> Any:
    return json.loads(kubectl("get", *args, "-o", "json").stdout)


@pytest.fixture
def namespace(cluster: LocalCluster) -> Any:
    made: list[str] = []

    def make(name: str) -> str:
        kubectl("create", "namespace", name)
        made.append(name)
        return name

    yield make
    for name in made:
        kubectl("delete", "namespace", name, "--wait=false", check=False)


def test_default_memory_requests_and_limits(namespace: Any) -> None:
    ns = namespace("default-mem-example")
    applied = kubectl("apply", "-f", str(EXAMPLES / "memory-defaults.yaml"), f"--namespace={ns}")
    assert applied.stdout.strip() == "limitrange/mem-limit-range created"
    expected = {
        "memory-defaults-pod.yaml": ("default-mem-demo", {"memory": "256Mi"}, {"memory": "512Mi"}),
        "memory-defaults-pod-2.yaml": ("default-mem-demo-2", {"memory": "1Gi"}, {"memory": "1Gi"}),
        "memory-defaults-pod-3.yaml": ("default-mem-demo-3", {"memory": "128Mi"}, {"memory": "512Mi"}),
    }
    for manifest, (name, requests, limits) in expected.items():
        kubectl("apply", "-f", str(EXAMPLES / manifest), f"--namespace={ns}")
        pod = get_json("pod", name, f"--namespace={ns}")
        assert pod["spec"]["containers"][0]["resources"] == {"requests": requests, "limits": limits}
    annotations = get_json("pod", "default-mem-demo", f"--namespace={ns}")["metadata"]["annotations"]
    assert annotations["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: memory request for container default-mem-demo-ctr; "
        "memory limit for container default-mem-demo-ctr"
    )


def _used(ns: str) -> dict[str, str]:
    return dict(get_json("resourcequota", "mem-cpu-demo", f"--namespace={ns}").get("status", {}).get("used", {}))


def test_memory_and_cpu_quota(namespace: Any, skiff: Any) -> None:
    ns = namespace("quota-mem-cpu-example")
    kubectl("apply", "-f", str(EXAMPLES / "quota-mem-cpu.yaml"), f"--namespace={ns}")
    zero = {"limits.cpu": "0", "limits.memory": "0", "requests.cpu": "0", "requests.memory": "0"}
    wait_for("the resourcequota controller's first status", lambda: _used(ns) == zero)

    kubectl("apply", "-f", str(EXAMPLES / "quota-mem-cpu-pod.yaml"), f"--namespace={ns}")
    status = get_json("resourcequota", "mem-cpu-demo", f"--namespace={ns}")["status"]
    assert status == {  # the docs' output, charged at admission
        "hard": {"limits.cpu": "2", "limits.memory": "2Gi", "requests.cpu": "1", "requests.memory": "1Gi"},
        "used": {"limits.cpu": "800m", "limits.memory": "800Mi", "requests.cpu": "400m", "requests.memory": "600Mi"},
    }
    for table in (
        kubectl("get", "quota", f"--namespace={ns}").stdout.splitlines(),
        skiff("get", "quota", "-n", ns).stdout.splitlines(),  # the same server-side Table
    ):
        assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
        assert "requests.cpu: 400m/1, requests.memory: 600Mi/1Gi" in table[1]
        assert table[1].rstrip().endswith("limits.cpu: 800m/2, limits.memory: 800Mi/2Gi")

    second = str(EXAMPLES / "quota-mem-cpu-pod-2.yaml")
    refused = kubectl("apply", "-f", second, f"--namespace={ns}", check=False)
    assert refused.returncode != 0
    assert refused.stderr.startswith("Error from server (Forbidden): error when creating")
    assert (
        'pods "quota-mem-cpu-demo-2" is forbidden: exceeded quota: mem-cpu-demo, requested: requests.memory=700Mi, '
        "used: requests.memory=600Mi, limited: requests.memory=1Gi"
    ) in refused.stderr

    kubectl("delete", "pod", "quota-mem-cpu-demo", f"--namespace={ns}", "--wait=false")
    wait_for("the usage given back", lambda: _used(ns) == zero, timeout=120)
    kubectl("apply", "-f", second, f"--namespace={ns}")
    assert _used(ns)["requests.memory"] == "700Mi"


def test_pod_quota(namespace: Any) -> None:
    """ "Configure a Pod Quota for a Namespace": a Deployment of 3 replicas gets 2 pods; the ReplicaSet's
    FailedCreate event carries Kubernetes' refusal, naming the generateName prefix."""
    ns = namespace("quota-pod-example")
    kubectl("apply", "-f", str(EXAMPLES / "quota-pod.yaml"), f"--namespace={ns}")
    wait_for("the quota's status", lambda: get_json("resourcequota", "pod-demo", f"--namespace={ns}").get("status"))
    kubectl("apply", "-f", str(EXAMPLES / "quota-pod-deployment.yaml"), f"--namespace={ns}")

    def refused() -> Any:
        events = get_json("events", f"--namespace={ns}")["items"]
        return [e["message"] for e in events if e["reason"] == "FailedCreate"]

    [message, *_] = wait_for("the ReplicaSet's FailedCreate event", refused)
    assert message.startswith('Error creating: pods "pod-quota-demo-')
    assert message.endswith(
        '-" is forbidden: exceeded quota: pod-demo, requested: pods=1, used: pods=2, limited: pods=2'
    )
    pods = get_json("pods", f"--namespace={ns}", "-l", "purpose=quota-demo")["items"]
    assert len(pods) == 2
    assert get_json("resourcequota", "pod-demo", f"--namespace={ns}")["status"]["used"] == {"pods": "2"}
