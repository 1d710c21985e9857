"""Node lifecycle on a real cluster: a kubelet that stops answering, then comes back.

The kubelet is frozen with SIGSTOP (the process stays, so the supervisor does not restart it, and no
heartbeat leaves it), which is what a hung or partitioned node looks like to the control plane. After the
default 40 s grace period the node lifecycle controller marks it Ready=Unknown and taints it unreachable;
the running pod keeps its place (the apiserver gave it the default 300 s toleration) and is marked not
ready. SIGCONT brings the kubelet back: its next heartbeat makes the node Ready and the taints go.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from skiff_cli.cluster import processes

pytestmark = [pytest.mark.e2e, pytest.mark.root, pytest.mark.slow]

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: patient
spec:
  containers:
    - name: c
      image: busybox
      command: ["sleep", "3600"]
"""
UNREACHABLE = "node.kubernetes.io/unreachable"


def test_silent_kubelet_makes_an_unreachable_node_until_it_is_back(skiff, cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(POD)
    skiff("apply", "-f", str(manifest))
    skiff.wait_for("the pod running", lambda: skiff.get_json("pod", "patient")["status"].get("phase") == "Running")
    pod = skiff.get_json("pod", "patient")
    defaults = {(t["key"], t.get("tolerationSeconds")) for t in pod["spec"]["tolerations"]}
    assert (UNREACHABLE, 300) in defaults and ("node.kubernetes.io/not-ready", 300) in defaults
    node = cluster.layout.node_name
    kubelet = processes.running_pid("kubelet", cluster.layout.pid_dir)
    assert kubelet is not None
    os.kill(kubelet, signal.SIGSTOP)
    try:

        def unreachable() -> dict | None:
            n = skiff.get_json("node", node)
            ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
            keys = {(t["key"], t["effect"]) for t in n["spec"].get("taints", [])}
            if ready["status"] == "Unknown" and {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")} <= keys:
                return ready
            return None

        ready = skiff.wait_for("Ready=Unknown and the unreachable taints", unreachable, timeout=120)
        assert ready["reason"] == "NodeStatusUnknown"
        assert ready["message"] == "Kubelet stopped posting node status."
        assert "Unknown" in skiff("get", "nodes").stdout or "NotReady" in skiff("get", "nodes").stdout

        def marked_not_ready() -> bool:
            conds = skiff.get_json("pod", "patient")["status"].get("conditions", [])
            return any(c["type"] == "Ready" and c["status"] == "False" for c in conds)

        skiff.wait_for("the pod marked not ready", marked_not_ready)
        assert not skiff.get_json("pod", "patient")["metadata"].get("deletionTimestamp")  # 300 s to go
        events = skiff("get", "events", "-A").stdout
        assert "NodeNotReady" in events, events
    finally:
        os.kill(kubelet, signal.SIGCONT)

    def back() -> bool:
        n = skiff.get_json("node", node)
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        return ready["status"] == "True" and not n["spec"].get("taints")

    skiff.wait_for("the node Ready again without taints", back, timeout=120)
    assert not skiff.get_json("pod", "patient")["metadata"].get("deletionTimestamp")
    skiff("delete", "pod", "patient")
