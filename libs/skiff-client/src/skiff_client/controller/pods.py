"""Pod facts every workload controller asks the same way: active, ready, available, and which pod
to delete first.

``rank_pods_for_deletion`` is Kubernetes' ``ActivePods`` ordering (controller_utils.go), so scale-down
removes the least valuable pod first::

    unscheduled < scheduled
    Pending < Unknown < Running
    not ready < ready
    ready for less time < ready for longer      (both ready)
    more container restarts < fewer
    newer < older                               (so an adopted, older pod survives)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import pod_pb2

_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: pod_pb2.Pod) -> bool:
    """Counts toward replicas: not being deleted and not finished."""
    return not pod.metadata.HasField("deletion_timestamp") and pod.status.phase not in ("Succeeded", "Failed")


def is_ready(pod: pod_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def _seconds(ts: timestamp_pb2.Timestamp) -> float:
    return ts.seconds + ts.nanos / 1e9


def ready_since(pod: pod_pb2.Pod) -> float | None:
    """When the pod last became Ready (epoch seconds), None if not ready."""
    for c in pod.status.conditions:
        if c.type == "Ready" and c.status == "True":
            return _seconds(c.last_transition_time) if c.HasField("last_transition_time") else 0.0
    return None


def is_available(pod: pod_pb2.Pod, min_ready_seconds: int, now: float | None = None) -> bool:
    """Ready for at least ``min_ready_seconds`` (Kubernetes' IsPodAvailable)."""
    since = ready_since(pod)
    if since is None:
        return False
    if min_ready_seconds <= 0:
        return True
    now = datetime.now(UTC).timestamp() if now is None else now
    return since + min_ready_seconds <= now


def available_in(pod: pod_pb2.Pod, min_ready_seconds: int, now: float | None = None) -> float | None:
    """Seconds until a ready pod becomes available (0 if it is), None if it is not ready."""
    since = ready_since(pod)
    if since is None:
        return None
    now = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, since + min_ready_seconds - now)


def deletion_cost(pod: pod_pb2.Pod) -> tuple[int, int, int, float, int, float]:
    """Sort key: lower sorts first = deleted first (see the module docstring)."""
    restarts = max((s.restart_count for s in pod.status.container_statuses), default=0)
    since = ready_since(pod)
    return (
        1 if pod.spec.node_name else 0,
        _PHASE_RANK.get(pod.status.phase, 0),
        1 if since is not None else 0,
        -(since or 0.0),  # ready more recently -> deleted first
        -restarts,
        -_seconds(pod.metadata.creation_timestamp),
    )


def rank_pods_for_deletion(pods: Iterable[pod_pb2.Pod]) -> list[pod_pb2.Pod]:
    """Pods in the order they should be deleted (the first is the least valuable)."""
    return sorted(pods, key=deletion_cost)
