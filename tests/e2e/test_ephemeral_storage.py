"""Local ephemeral storage on a real cluster, as the kubelet enforces it by eviction:

* a pod writing 2 MiB into an emptyDir with sizeLimit 1Mi is evicted (Failed, Evicted, Kubernetes' message);
* a pod writing 2 MiB into its writable layer with an ephemeral-storage limit of 1Mi is evicted for the pod's
  total; with two containers of 1Mi each, the one writing 1.5 MiB is evicted by its own limit;
* a pod under its limits keeps running, and the node advertises its ephemeral-storage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skiff_common.apimachinery.quantity import int_value

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SLEEP = "exec sleep 3600"


def _container(name: str, script: str, limit: str = "") -> dict:
    c: dict = {
        "name": name,
        "image": "busybox:1.28",
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", script],
    }
    if limit:
        c["resources"] = {"limits": {"ephemeral-storage": limit}}
    return c


def _pod(name: str, containers: list[dict], volumes: list[dict] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"terminationGracePeriodSeconds": 1, "containers": containers, "volumes": volumes or []},
    }


def _fill(path: str, kib: int) -> str:
    return f"dd if=/dev/zero of={path} bs=1024 count={kib} && {SLEEP}"


def _evicted(skiff, name: str) -> dict:  # type: ignore[no-untyped-def]
    def check() -> dict | None:
        status = skiff.get_json("pod", name).get("status", {})
        return status if status.get("reason") == "Evicted" else None

    return skiff.wait_for(f"{name} evicted", check, timeout=120)


def test_storage_limits_evict(skiff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scratch = _pod(
        "es-emptydir",
        [{**_container("c", _fill("/scratch/fill", 2048)), "volumeMounts": [{"name": "x", "mountPath": "/scratch"}]}],
        [{"name": "x", "emptyDir": {"sizeLimit": "1Mi"}}],
    )
    pods = {
        "es-emptydir": scratch,
        "es-rootfs": _pod("es-rootfs", [_container("c", _fill("/fill", 2048), "1Mi")]),
        "es-container": _pod(
            "es-container", [_container("big", _fill("/fill", 1536), "1Mi"), _container("small", SLEEP, "1Mi")]
        ),
        "es-calm": _pod("es-calm", [_container("c", _fill("/fill", 256), "1Mi")]),
    }
    try:
        for name, pod in pods.items():
            manifest = tmp_path / f"{name}.json"
            manifest.write_text(json.dumps(pod))
            skiff("apply", "-f", str(manifest))
        expected = {
            "es-emptydir": 'Usage of EmptyDir volume "x" exceeds the limit "1Mi". ',
            "es-rootfs": "Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. ",
            "es-container": 'Container big exceeded its local ephemeral storage limit "1Mi". ',
        }
        for name, message in expected.items():
            status = _evicted(skiff, name)
            assert status["phase"] == "Failed"
            assert status["message"] == message
        events = skiff.get_json("events")["items"]
        assert any(e["reason"] == "Evicted" and e["involvedObject"]["name"] == "es-emptydir" for e in events)

        def calm_running() -> bool:
            return skiff.get_json("pod", "es-calm").get("status", {}).get("phase") == "Running"

        skiff.wait_for("the pod under its limit running", calm_running)
        assert skiff.get_json("pod", "es-calm")["status"].get("reason", "") != "Evicted"
    finally:
        for name in pods:
            skiff("delete", "pod", name, check=False)


def test_node_advertises_ephemeral_storage(skiff) -> None:  # type: ignore[no-untyped-def]
    node = skiff.get_json("nodes")["items"][0]
    capacity = int_value(node["status"]["capacity"]["ephemeral-storage"])
    allocatable = int_value(node["status"]["allocatable"]["ephemeral-storage"])
    assert 0 < allocatable < capacity  # less the nodefs.available hard eviction threshold (10 %)
