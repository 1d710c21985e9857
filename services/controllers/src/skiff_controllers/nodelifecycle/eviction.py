"""When a pod must leave a node with NoExecute taints (Kubernetes' taint eviction manager).

    any NoExecute taint the pod does not tolerate      -> evict now
    all tolerated, some tolerations carry seconds      -> evict at min over those of (timeAdded + seconds)
    all tolerated, none carries seconds                -> never (a DaemonSet pod, say)

The clock starts at the taint's ``timeAdded``, written when the taint was put on the node, so a
restarted controller evicts at the same moment as the one that put the taint (Kubernetes' manager keeps
that time in memory). A negative tolerationSeconds counts as zero, as in Kubernetes.
"""

from __future__ import annotations

from collections.abc import Sequence

from skiff.api.core.v1 import node_pb2, scheduling_pb2

from skiff_controllers.nodelifecycle.taints import tolerates


def eviction_time(
    tolerations: Sequence[scheduling_pb2.Toleration], taints: Sequence[node_pb2.Taint], now: float
) -> float | None:
    """Wall-clock second at which the pod is to be evicted (<= now: at once), or None for never."""
    deadline: float | None = None
    for taint in taints:
        if taint.effect != "NoExecute":
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            return now
        added = taint.time_added.seconds + taint.time_added.nanos / 1e9 if taint.HasField("time_added") else now
        for tol in matching:
            if not tol.HasField("toleration_seconds"):
                continue  # tolerated forever by this one; another may still set a deadline
            at = added + max(0, tol.toleration_seconds)
            deadline = at if deadline is None else min(deadline, at)
    return deadline
