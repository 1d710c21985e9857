"""TaintToleration: a node's NoSchedule/NoExecute taints must each be tolerated by the pod.
(PreferNoSchedule only affects scoring in Kubernetes and is ignored here.)"""

from __future__ import annotations

from skiff.api.core.v1 import node_pb2, pod_pb2, scheduling_pb2

from skiff_scheduler.framework import NodeInfo, Status


def tolerates(tol: scheduling_pb2.Toleration, taint: node_pb2.Taint) -> bool:
    if tol.effect and tol.effect != taint.effect:
        return False
    if not tol.key:  # empty key with Exists tolerates everything
        return tol.operator == "Exists"
    if tol.key != taint.key:
        return False
    if tol.operator == "Exists":
        return True
    return tol.value == taint.value  # "Equal" (the default operator)


class TaintToleration:
    name = "TaintToleration"

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        for taint in node.node.spec.taints:
            if taint.effect not in ("NoSchedule", "NoExecute"):
                continue
            if not any(tolerates(t, taint) for t in pod.spec.tolerations):
                # kube-scheduler's wording: "{key: value}" (e.g. "{node.kubernetes.io/not-ready: }")
                return Status.unschedulable(
                    f"node(s) had untolerated taint {{{taint.key}: {taint.value}}}", unresolvable=True
                )
        return Status.success()
