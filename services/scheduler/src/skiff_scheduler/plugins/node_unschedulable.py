"""NodeUnschedulable: cordoned nodes (spec.unschedulable) take no new pods unless the pod tolerates
the node.kubernetes.io/unschedulable:NoSchedule taint."""

from __future__ import annotations

from skiff.api.core.v1 import node_pb2, pod_pb2

from skiff_scheduler.framework import NodeInfo, Status
from skiff_scheduler.plugins.taint_toleration import tolerates

UNSCHEDULABLE_TAINT = node_pb2.Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")


class NodeUnschedulable:
    name = "NodeUnschedulable"

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        if not node.node.spec.unschedulable:
            return Status.success()
        if any(tolerates(t, UNSCHEDULABLE_TAINT) for t in pod.spec.tolerations):
            return Status.success()
        return Status.unschedulable("node(s) were unschedulable", unresolvable=True)
