"""NodeReady: only nodes whose Ready condition is True (a node without conditions has not
registered its kubelet yet)."""

from __future__ import annotations

from skiff.api.core.v1 import pod_pb2

from skiff_scheduler.framework import NodeInfo, Status


class NodeReady:
    name = "NodeReady"

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        for cond in node.node.status.conditions:
            if cond.type == "Ready":
                if cond.status == "True":
                    return Status.success()
                return Status.unschedulable(f"node(s) were not ready ({cond.reason or cond.status})")
        return Status.unschedulable("node(s) had no Ready condition")
