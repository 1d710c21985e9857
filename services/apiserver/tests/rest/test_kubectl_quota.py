"""Real kubectl (1.27 and 1.33) with LimitRange and ResourceQuota over the REST port, using the Kubernetes
docs' manifests (examples/quota/): `kubectl get/describe limits|quota` print what they print against
Kubernetes, `kubectl create quota` (a protobuf body from 1.31 on) works, defaults land in the pod, and the
refusals are Kubernetes' `Error from server (Forbidden)` lines. No resourcequota controller runs here: the
test writes the status it would through the status subresource."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from rest_testlib import KUBECTL_VERSIONS, Rest, kubectl_binary

pytestmark = pytest.mark.etcd

EXAMPLES = Path(__file__).resolve().parents[4] / "examples" / "quota"


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.strip().splitlines()]


@pytest.fixture(params=KUBECTL_VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    kubectl_binary(request.param)
    return str(request.param)


async def test_limitrange_defaults_and_printing(rest: Rest, version: str) -> None:
    def run() -> None:
        ns = f"default-mem-example-{version.replace('.', '')}"
        rest.kubectl(version, "create", "namespace", ns)
        out = rest.kubectl(version, "apply", "-f", str(EXAMPLES / "memory-defaults.yaml"), f"--namespace={ns}")
        assert out.stdout.strip() == "limitrange/mem-limit-range created"
        table = _rows(rest.kubectl(version, "get", "limits", "-n", ns).stdout)
        assert table[0] == ["NAME", "CREATED", "AT"] and table[1][0] == "mem-limit-range"
        explained = rest.kubectl(version, "explain", "limitrange.spec.limits").stdout
        assert "maxLimitRequestRatio" in explained and "defaultRequest" in explained
        described = _rows(rest.kubectl(version, "describe", "limitrange", "mem-limit-range", "-n", ns).stdout)
        assert ["Container", "memory", "-", "-", "256Mi", "512Mi", "-"] in described
        expected = {
            "memory-defaults-pod.yaml": ("default-mem-demo", {"memory": "256Mi"}, {"memory": "512Mi"}),
            "memory-defaults-pod-2.yaml": ("default-mem-demo-2", {"memory": "1Gi"}, {"memory": "1Gi"}),
            "memory-defaults-pod-3.yaml": ("default-mem-demo-3", {"memory": "128Mi"}, {"memory": "512Mi"}),
        }
        for manifest, (name, requests, limits) in expected.items():
            rest.kubectl(version, "apply", "-f", str(EXAMPLES / manifest), f"--namespace={ns}")
            pod = json.loads(rest.kubectl(version, "get", "pod", name, "-n", ns, "-o", "json").stdout)
            assert pod["spec"]["containers"][0]["resources"] == {"requests": requests, "limits": limits}

    await asyncio.to_thread(run)


async def test_quota_create_get_describe_and_refusal(rest: Rest, version: str) -> None:
    def run() -> None:
        ns = f"quota-mem-cpu-example-{version.replace('.', '')}"
        rest.kubectl(version, "create", "namespace", ns)
        rest.kubectl(version, "apply", "-f", str(EXAMPLES / "quota-mem-cpu.yaml"), f"--namespace={ns}")
        status = {"status": {"hard": {"requests.cpu": "1", "requests.memory": "1Gi", "limits.cpu": "2",
                                      "limits.memory": "2Gi"},
                             "used": {"requests.cpu": "0", "requests.memory": "0", "limits.cpu": "0",
                                      "limits.memory": "0"}}}  # fmt: skip
        rest.kubectl(
            version, "patch", "resourcequota", "mem-cpu-demo", "-n", ns, "--subresource=status", "--type=merge",
            "-p", json.dumps(status),
        )  # fmt: skip
        table = rest.kubectl(version, "get", "quota", "-n", ns).stdout.splitlines()
        assert table[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
        assert table[1].startswith("mem-cpu-demo ")
        assert "requests.cpu: 0/1, requests.memory: 0/1Gi" in table[1]
        assert table[1].rstrip().endswith("limits.cpu: 0/2, limits.memory: 0/2Gi")

        rest.kubectl(version, "apply", "-f", str(EXAMPLES / "quota-mem-cpu-pod.yaml"), f"--namespace={ns}")
        described = _rows(rest.kubectl(version, "describe", "quota", "mem-cpu-demo", "-n", ns).stdout)
        assert ["Resource", "Used", "Hard"] in described
        for row in (["limits.cpu", "800m", "2"], ["limits.memory", "800Mi", "2Gi"], ["requests.cpu", "400m", "1"],
                    ["requests.memory", "600Mi", "1Gi"]):  # fmt: skip
            assert row in described

        refused = rest.kubectl(
            version, "apply", "-f", str(EXAMPLES / "quota-mem-cpu-pod-2.yaml"), f"--namespace={ns}", check=False
        )
        assert refused.returncode != 0
        assert (
            'pods "quota-mem-cpu-demo-2" is forbidden: exceeded quota: mem-cpu-demo, requested: '
            "requests.memory=700Mi, used: requests.memory=600Mi, limited: requests.memory=1Gi"
        ) in refused.stderr
        assert refused.stderr.startswith("Error from server (Forbidden)")

        created = rest.kubectl(version, "create", "quota", "object-counts", "--hard=pods=2,services=1", "-n", ns)
        assert created.stdout.strip() == "resourcequota/object-counts created"
        quota = json.loads(rest.kubectl(version, "get", "quota", "object-counts", "-n", ns, "-o", "json").stdout)
        assert quota["spec"] == {"hard": {"pods": "2", "services": "1"}}

        bad = rest.kubectl(version, "create", "quota", "bad", "--hard=pods=1.5", "-n", ns, check=False)
        assert 'spec.hard[pods]: Invalid value: "1500m": must be an integer' in bad.stderr  # kubectl sends it canonical

    await asyncio.to_thread(run)
