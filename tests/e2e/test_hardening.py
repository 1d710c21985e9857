"""Container hardening on a real cluster started as `skiff up` starts one (--seccomp-default,
--pod-max-pids=4096):

* an ordinary pod cannot mount or unshare a mount namespace even with CAP_SYS_ADMIN (RuntimeDefault
  seccomp), unless it asks for Unconfined;
* a privileged pod runs (its sandbox is privileged) and may mount;
* every pod's cgroup has pids.max 4096, and the container's processes are counted in it;
* runAsNonRoot with an image that runs as root is refused with Kubernetes' message.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]

SCRIPT = (
    "mkdir -p /mnt; mount -t tmpfs t /mnt && echo mount-ok || echo mount-denied; "
    "unshare -m true && echo unshare-ok || echo unshare-denied; sleep 3600"
)


def _pod(name: str, container_sc: dict, pod_sc: dict | None = None, script: str = SCRIPT) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "securityContext": pod_sc or {},
            "containers": [
                {
                    "name": "c",
                    "image": "busybox:1.28",
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", script],
                    "securityContext": container_sc,
                }
            ],
        },
    }


def _apply(skiff, tmp_path: Path, pod: dict) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / f"{pod['metadata']['name']}.json"
    manifest.write_text(json.dumps(pod))
    skiff("apply", "-f", str(manifest))


def _logs_when(skiff, name: str, lines: int):  # type: ignore[no-untyped-def]
    def ready() -> list[str] | None:
        words = skiff("logs", name, check=False).stdout.split()  # stderr is in the log too: keep our markers
        out = [w for w in words if w.endswith(("-ok", "-denied"))]
        return out if len(out) >= lines else None

    return skiff.wait_for(f"{name} to print {lines} lines", ready, timeout=120)


def test_seccomp_default_privileged_and_pid_limit(skiff, cluster: LocalCluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sys_admin = {"capabilities": {"add": ["SYS_ADMIN"]}}
    pods = {
        "sc-default": _pod("sc-default", sys_admin),
        "sc-unconfined": _pod("sc-unconfined", {**sys_admin, "seccompProfile": {"type": "Unconfined"}}),
        "sc-privileged": _pod("sc-privileged", {"privileged": True}),
    }
    try:
        for pod in pods.values():
            _apply(skiff, tmp_path, pod)
        assert _logs_when(skiff, "sc-default", 2) == ["mount-denied", "unshare-denied"]
        assert _logs_when(skiff, "sc-unconfined", 2) == ["mount-ok", "unshare-ok"]
        assert _logs_when(skiff, "sc-privileged", 2) == ["mount-ok", "unshare-ok"]
        # The pod cgroup's pids.max is the kubelet's --pod-max-pids, and the pod's processes count in it.
        uid = skiff.get_json("pod", "sc-default")["metadata"]["uid"]
        fs = Path("/sys/fs/cgroup")
        base = fs if (fs / "cgroup.controllers").exists() else fs / "pids"
        pod_cgroup = base / cluster.layout.cgroup_root.strip("/") / f"pod{uid}"
        assert (pod_cgroup / "pids.max").read_text().strip() == "4096"
        assert int((pod_cgroup / "pids.current").read_text()) >= 1  # the container's sleep counts in it
    finally:
        for name in pods:
            skiff("delete", "pod", name, check=False)


def test_run_as_non_root_refuses_a_root_image(skiff, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pod = _pod("nonroot", {}, {"runAsNonRoot": True}, script="id")
    try:
        _apply(skiff, tmp_path, pod)

        def refused() -> dict | None:
            statuses = skiff.get_json("pod", "nonroot").get("status", {}).get("containerStatuses") or []
            waiting = statuses[0].get("state", {}).get("waiting", {}) if statuses else {}
            return waiting if waiting.get("reason") == "CreateContainerConfigError" else None

        waiting = skiff.wait_for("runAsNonRoot to refuse the container", refused, timeout=120)
        assert "container has runAsNonRoot and image will run as root" in waiting["message"]
    finally:
        skiff("delete", "pod", "nonroot", check=False)
