"""DefaultTolerationSeconds: every pod tolerates a not-ready or unreachable node for 300 s.

Kubernetes' admission plugin of that name adds, to a pod that has no toleration of its own for the key,

    - key: node.kubernetes.io/not-ready     operator: Exists  effect: NoExecute  tolerationSeconds: 300
    - key: node.kubernetes.io/unreachable   operator: Exists  effect: NoExecute  tolerationSeconds: 300

so a node that stops answering does not evict its pods at once: the node lifecycle controller taints it
NoExecute and the taint-eviction manager deletes each pod only when its toleration runs out. A toleration
with an empty key (tolerates every key) or an empty effect (every effect) counts as one for the key, as in
Kubernetes, so a DaemonSet pod's own tolerations (no tolerationSeconds: forever) are kept as they are.
"""

from __future__ import annotations

from skiff.api.core.v1 import pod_pb2, scheduling_pb2

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
DEFAULT_SECONDS = 300


def _has_toleration_for(pod: pod_pb2.Pod, key: str) -> bool:
    return any((t.key == key or not t.key) and t.effect in ("", "NoExecute") for t in pod.spec.tolerations)


def admit(pod: pod_pb2.Pod, seconds: int = DEFAULT_SECONDS) -> None:
    """Add the default NoExecute tolerations that the pod lacks (in place)."""
    for key in (NOT_READY, UNREACHABLE):
        if not _has_toleration_for(pod, key):
            pod.spec.tolerations.append(
                scheduling_pb2.Toleration(key=key, operator="Exists", effect="NoExecute", toleration_seconds=seconds)
            )
