"""taint, cordon, uncordon and drain against a real apiserver, on a Node object of the test's own (no
kubelet runs here: pods are bound to it by name, and drain evicts them through the eviction API)."""

from __future__ import annotations

import json
import uuid

from kube_fixture import Kube


def node(kube: Kube) -> str:
    name = f"n-{uuid.uuid4().hex[:6]}"
    kube.ok("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
    return name


def taints(kube: Kube, name: str) -> list:  # type: ignore[type-arg]
    return json.loads(kube.ok("get", "node", name, "-o", "json"))["spec"].get("taints") or []


def test_taint_add_overwrite_remove(kube: Kube) -> None:
    name = node(kube)
    assert kube.ok("taint", "nodes", name, "dedicated=db:NoSchedule") == f"node/{name} tainted\n"
    assert taints(kube, name) == [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]
    r = kube.skiff("taint", "nodes", name, "dedicated=web:NoSchedule")
    assert r.code == 1 and r.err == kube.kubectl("taint", "nodes", name, "dedicated=web:NoSchedule").err
    kube.ok("taint", "nodes", name, "dedicated=web:NoSchedule", "--overwrite")
    kube.ok("taint", "node", name, "gpu:NoExecute")
    assert [t["key"] for t in taints(kube, name)] == ["dedicated", "gpu"]
    assert kube.ok("taint", "node", name, "dedicated-") == f"node/{name} untainted\n"
    assert kube.ok("taint", "node", name, "gpu:NoExecute-") == f"node/{name} untainted\n"
    assert taints(kube, name) == []


def test_cordon_uncordon(kube: Kube) -> None:
    name = node(kube)
    assert kube.ok("cordon", name) == f"node/{name} cordoned\n"
    assert kube.ok("cordon", name) == f"node/{name} already cordoned\n"
    assert json.loads(kube.ok("get", "node", name, "-o", "json"))["spec"]["unschedulable"] is True
    assert kube.ok("uncordon", name) == f"node/{name} uncordoned\n"
    assert not json.loads(kube.ok("get", "node", name, "-o", "json"))["spec"].get("unschedulable")


def pod(name: str, node_name: str, **extra: object) -> str:
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **extra},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]}}  # fmt: skip
    return json.dumps(body)


def test_drain_refuses_unmanaged_pods_then_evicts_with_force(kube: Kube) -> None:
    name = node(kube)
    ns = kube.namespace()
    kube.ok("create", "-f", "-", "-n", ns, input=pod("lonely", name))
    r = kube.skiff("drain", name)
    assert r.code == 1 and "cannot delete Pods that declare no controller (use --force to override)" in r.err
    assert f"{ns}/lonely" in r.err
    out = kube.ok("drain", name, "--force", "--grace-period", "0")
    assert out == f"node/{name} already cordoned\nevicting pod {ns}/lonely\npod/lonely evicted\nnode/{name} drained\n"
    assert kube.skiff("get", "pod", "lonely", "-n", ns).code == 1
