"""Predicates on Job pods and conditions, and the condition setter (shared by sync.py and the controller).

A pod is *active* when it neither finished nor is being deleted; *tracked* while it carries the
``batch.kubernetes.io/job-tracking`` finalizer. ``is_failed`` is Kubernetes' isPodFailed. Conditions follow
Kubernetes' rule that lastTransitionTime moves only when the status flips.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

FINALIZER = "batch.kubernetes.io/job-tracking"


def ts(seconds: float) -> Timestamp:
    out = Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def has_finalizer(pod: Any) -> bool:
    return FINALIZER in pod.metadata.finalizers


def terminating(pod: Any) -> bool:
    return bool(pod.metadata.HasField("deletion_timestamp"))


def finished_phase(pod: Any) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def is_active(pod: Any) -> bool:
    return not finished_phase(pod) and not terminating(pod)


def is_ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def is_failed(pod: Any, job: Any, failing: bool = False) -> bool:
    """Kubernetes' isPodFailed: a terminating pod counts as failed, unless a podFailurePolicy must first
    see its real phase (exit codes, DisruptionTarget). Even then it counts once no kubelet will write a
    phase: never scheduled (Kubernetes' PodGC marks those Failed), or the kubelet's final grace-0 delete
    came; and when the Job is already failing, the policy has nothing left to decide."""
    if pod.status.phase == "Failed":
        return True
    if not terminating(pod) or pod.status.phase == "Succeeded":
        return False
    if not job.spec.HasField("pod_failure_policy") or failing:
        return True
    return not pod.spec.node_name or pod.metadata.deletion_grace_period_seconds == 0


def condition(status: Any, type_: str) -> Any | None:
    for c in status.conditions:
        if c.type == type_:
            return c
    return None


def is_true(status: Any, type_: str) -> bool:
    c = condition(status, type_)
    return c is not None and c.status == "True"


def is_finished(job: Any) -> bool:
    return is_true(job.status, "Complete") or is_true(job.status, "Failed")


def set_condition(status: Any, type_: str, value: str, reason: str, message: str, now: float) -> bool:
    """Set a condition; lastTransitionTime moves only when the status flips. True when anything changed."""
    c = condition(status, type_)
    if c is None:
        c = status.conditions.add(type=type_)
    elif (c.status, c.reason, c.message) == (value, reason, message):
        return False
    if c.status != value:
        c.last_transition_time.CopyFrom(ts(now))
    c.status, c.reason, c.message = value, reason, message
    c.last_probe_time.CopyFrom(ts(now))
    return True


def finish_time(job: Any) -> float | None:
    """When a finished Job finished (completionTime, or the Failed condition's transition)."""
    if is_true(job.status, "Complete") and job.status.HasField("completion_time"):
        return float(job.status.completion_time.ToNanoseconds()) / 1e9
    for type_ in ("Complete", "Failed"):
        c = condition(job.status, type_)
        if c is not None and c.status == "True":
            return float(c.last_transition_time.ToNanoseconds()) / 1e9
    return None


def pod_failure_time(pod: Any, now: float) -> float:
    ends = [
        cs.state.terminated.finished_at.ToNanoseconds() / 1e9
        for cs in pod.status.container_statuses
        if cs.state.HasField("terminated") and cs.state.terminated.HasField("finished_at")
    ]
    return max(ends) if ends else now
