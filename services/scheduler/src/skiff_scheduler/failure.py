"""Telling the user why a pod is not scheduled, kube-scheduler's way.

    PodScheduled=False, reason Unschedulable (SchedulerError for errors), message
      "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {k: v}.
       preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
    status.nominatedNodeName when preemption made room somewhere
    one FailedScheduling event with the same message (the recorder aggregates repeats)

Reasons are counted per node (a node failing two resources counts in both) and listed sorted, as
kube-scheduler's FitError does.
"""

from __future__ import annotations

from collections import Counter

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder
from skiff_client.events import now_timestamp
from skiff_common import errors

from skiff_scheduler.framework.status import Status


def fit_message(total: int, statuses: dict[str, Status], excluded: Counter[str] | None = None) -> str:
    reasons: Counter[str] = Counter(excluded or {})
    for st in statuses.values():
        for r in st.reasons or (st.code.value,):
            reasons[r] += 1
    parts = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items()))
    return f"0/{total} nodes are available: {parts}." if parts else f"0/{total} nodes are available."


async def report_failure(
    api: ApiClient,
    events: EventRecorder,
    pod: pod_pb2.Pod,
    reason: str,
    message: str,
    nominated_node: str | None,
) -> None:
    """Event + status condition (+ nominatedNodeName); writes nothing when the status already says it."""
    events.record(pod, "Warning", "FailedScheduling", message)
    nominated_same = nominated_node is None or pod.status.nominated_node_name == nominated_node
    for cond in pod.status.conditions:
        if (
            cond.type == "PodScheduled"
            and cond.status == "False"
            and cond.reason == reason
            and cond.message == message
            and nominated_same
        ):
            return
    updated = pod_pb2.Pod()
    updated.CopyFrom(pod)
    conds = [c for c in updated.status.conditions if c.type != "PodScheduled"]
    conds.append(
        meta_pb2.Condition(
            type="PodScheduled", status="False", reason=reason, message=message, last_transition_time=now_timestamp()
        )
    )
    del updated.status.conditions[:]
    updated.status.conditions.extend(conds)
    if nominated_node is not None:
        updated.status.nominated_node_name = nominated_node
    if not updated.status.phase:
        updated.status.phase = "Pending"
    try:
        await api.update_status(updated)
    except (errors.Conflict, errors.NotFound):
        pass  # a newer version comes through the informer; the next attempt reports again


def failure_status_reason(status: Status) -> str:
    return "SchedulerError" if status.code.value == "Error" else "Unschedulable"
