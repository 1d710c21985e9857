"""Device plugins end to end: the sample example.com/gpu plugin, started as `skiff up --fake-gpus 2` starts
it, registers with the cluster's kubelet; the Node advertises the devices, a pod asking for one runs with
its device; one asking for more than are free stays Pending with `Insufficient example.com/gpu` from
the scheduler, and one bound to the node by hand (spec.nodeName, past the scheduler) is refused by the
kubelet's admission."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from skiff_cli.cluster import components, processes
from skiff_cli.cluster.local import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.root]
POD = """
apiVersion: v1
kind: Pod
metadata: {name: gpu-user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: busybox
      command: ["sh", "-c", "echo devices=$EXAMPLE_GPU_DEVICES; cat /dev/example-gpu*; sleep 3600"]
      resources: {limits: {example.com/gpu: 1}}
"""


def test_fake_gpus(skiff: Any, cluster: LocalCluster) -> None:
    layout = dataclasses.replace(cluster.layout, fake_gpus=2)
    plugin = components.device_plugin(layout)
    processes.start(plugin.name, plugin.argv, log_dir=layout.log_dir, pid_dir=layout.pid_dir)
    try:

        def advertised() -> dict[str, str] | None:
            status = skiff.get_json("node", layout.node_name)["status"]
            ok = status["capacity"].get("example.com/gpu") == "2" == status["allocatable"].get("example.com/gpu")
            return status["capacity"] if ok else None

        skiff.wait_for("example.com/gpu: 2 on the node", advertised, timeout=60)
        skiff("apply", "-f", "-", input=POD)
        skiff.wait_for(
            "the pod's device",
            lambda: "fake device gpu-0" in skiff("logs", "gpu-user", check=False).stdout,
            timeout=120,
        )
        assert "devices=gpu-0" in skiff("logs", "gpu-user").stdout
        greedy = POD.replace("gpu-user", "gpu-greedy").replace("example.com/gpu: 1", "example.com/gpu: 2")
        skiff("apply", "-f", "-", input=greedy)

        def unschedulable() -> str | None:
            conditions = skiff.get_json("pod", "gpu-greedy").get("status", {}).get("conditions", [])
            scheduled = next((c for c in conditions if c["type"] == "PodScheduled"), {})
            return scheduled.get("message") if scheduled.get("reason") == "Unschedulable" else None

        assert "Insufficient example.com/gpu" in skiff.wait_for("the scheduler's refusal", unschedulable)
        skiff("delete", "pod", "gpu-greedy", "--wait=false")
        bound = greedy.replace("gpu-greedy", "gpu-bound").replace(
            "spec:\n", f"spec:\n  nodeName: {layout.node_name}\n", 1
        )
        skiff("apply", "-f", "-", input=bound)

        def refused() -> str | None:
            statuses = skiff.get_json("pod", "gpu-bound").get("status", {}).get("containerStatuses", [])
            waiting = statuses[0]["state"].get("waiting", {}) if statuses else {}
            return waiting.get("message") if waiting.get("reason") == "UnexpectedAdmissionError" else None

        message = skiff.wait_for("the kubelet refusing 2 GPUs with 1 free", refused, timeout=120)
        assert "requested number of devices unavailable for example.com/gpu. Requested: 2, Available: 1" in message
    finally:
        skiff("delete", "pod", "gpu-user", "gpu-greedy", "gpu-bound", "--ignore-not-found", check=False)
        processes.stop(plugin.name, layout.pid_dir)
