"""Deployment status and its two conditions, computed without I/O (Kubernetes' ``sync.go`` /
``progress.go``).

* **Available** -- True (MinimumReplicasAvailable) while available >= replicas - maxUnavailable,
  else False (MinimumReplicasUnavailable).
* **Progressing** -- NewReplicaSetCreated / FoundNewReplicaSet when the new ReplicaSet appears;
  ReplicaSetUpdated each time progress is seen (more updated, ready or available pods, or fewer old
  ones; lastUpdateTime moves, lastTransitionTime stays); NewReplicaSetAvailable when complete; False
  with ProgressDeadlineExceeded when no progress was seen for ``progressDeadlineSeconds``;
  Unknown with DeploymentPaused / DeploymentResumed around a pause.

A condition is only rewritten when its status or reason changes (or on progress), so a reconcile of an
unchanged Deployment computes a status equal to the stored one and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2
from skiff.api.apps.v1 import apps_pb2
from skiff.api.meta.v1 import meta_pb2

from skiff_controllers.deployment.util import desired, max_unavailable, replicas

AVAILABLE = "Available"
PROGRESSING = "Progressing"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "ReplicaSetCreateError"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
NO_DEADLINE = 2**31 - 1

RS = apps_pb2.ReplicaSet


def now_ts(now: float | None = None) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.fromtimestamp(now, UTC) if now is not None else datetime.now(UTC))
    ts.nanos = 0
    return ts


def new_condition(type_: str, status: str, reason: str, message: str, now: float | None = None) -> meta_pb2.Condition:
    ts = now_ts(now)
    return meta_pb2.Condition(
        type=type_, status=status, reason=reason, message=message, last_update_time=ts, last_transition_time=ts
    )


def get_condition(status: apps_pb2.DeploymentStatus, type_: str) -> meta_pb2.Condition | None:
    return next((c for c in status.conditions if c.type == type_), None)


def set_condition(status: apps_pb2.DeploymentStatus, cond: meta_pb2.Condition) -> None:
    """Kubernetes' SetDeploymentCondition: no-op for the same status and reason; keep the transition
    time when only the reason changes."""
    current = get_condition(status, cond.type)
    if current is not None and current.status == cond.status and current.reason == cond.reason:
        return
    if current is not None and current.status == cond.status:
        cond.last_transition_time.CopyFrom(current.last_transition_time)
    remove_condition(status, cond.type)
    status.conditions.append(cond)


def remove_condition(status: apps_pb2.DeploymentStatus, type_: str) -> None:
    keep = [c for c in status.conditions if c.type != type_]
    del status.conditions[:]
    status.conditions.extend(keep)


def has_progress_deadline(d: apps_pb2.Deployment) -> bool:
    return d.spec.HasField("progress_deadline_seconds") and d.spec.progress_deadline_seconds != NO_DEADLINE


def calculate_status(
    d: apps_pb2.Deployment, all_rss: Sequence[RS | None], new: RS | None, now: float | None = None
) -> apps_pb2.DeploymentStatus:
    rss = [rs for rs in all_rss if rs is not None]
    avail = sum(rs.status.available_replicas for rs in rss)
    total = sum(replicas(rs) for rs in rss)
    st = apps_pb2.DeploymentStatus(
        observed_generation=d.metadata.generation,
        replicas=sum(rs.status.replicas for rs in rss),
        updated_replicas=new.status.replicas if new is not None else 0,
        ready_replicas=sum(rs.status.ready_replicas for rs in rss),
        available_replicas=avail,
        unavailable_replicas=max(0, total - avail),
    )
    if d.status.HasField("collision_count"):
        st.collision_count = d.status.collision_count
    st.conditions.extend(d.status.conditions)
    if avail >= desired(d) - max_unavailable(d):
        set_condition(st, new_condition(AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now))
    else:
        set_condition(
            st,
            new_condition(AVAILABLE, "False", MIN_UNAVAILABLE, "Deployment does not have minimum availability.", now),
        )
    return st


def is_complete(d: apps_pb2.Deployment, st: apps_pb2.DeploymentStatus) -> bool:
    want = desired(d)
    return (
        st.updated_replicas == want
        and st.replicas == want
        and st.available_replicas == want
        and st.observed_generation >= d.metadata.generation
    )


def made_progress(old: apps_pb2.DeploymentStatus, new: apps_pb2.DeploymentStatus) -> bool:
    return (
        new.updated_replicas > old.updated_replicas
        or (new.replicas - new.updated_replicas) < (old.replicas - old.updated_replicas)
        or new.ready_replicas > old.ready_replicas
        or new.available_replicas > old.available_replicas
    )


def timed_out(d: apps_pb2.Deployment, st: apps_pb2.DeploymentStatus, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(st, PROGRESSING)
    if cond is None or cond.reason == NEW_RS_AVAILABLE:
        return False
    if cond.reason == TIMED_OUT:
        return True
    return cond.last_update_time.seconds + d.spec.progress_deadline_seconds < now


def rollout_status(
    d: apps_pb2.Deployment, all_rss: Sequence[RS | None], new: RS | None, now: float
) -> apps_pb2.DeploymentStatus:
    """Kubernetes' syncRolloutStatus: the status with Available and Progressing brought up to date."""
    st = calculate_status(d, all_rss, new, now)
    if not has_progress_deadline(d):
        remove_condition(st, PROGRESSING)
        return st
    current = get_condition(d.status, PROGRESSING)
    complete_before = st.replicas == st.updated_replicas and current is not None and current.reason == NEW_RS_AVAILABLE
    if complete_before:
        return st
    rs_name = new.metadata.name if new is not None else ""
    if is_complete(d, st):
        msg = (
            f'ReplicaSet "{rs_name}" has successfully progressed.'
            if new is not None
            else (f'Deployment "{d.metadata.name}" has successfully progressed.')
        )
        set_condition(st, new_condition(PROGRESSING, "True", NEW_RS_AVAILABLE, msg, now))
    elif made_progress(d.status, st):
        msg = (
            f'ReplicaSet "{rs_name}" is progressing.'
            if new is not None
            else (f'Deployment "{d.metadata.name}" is progressing.')
        )
        cond = new_condition(PROGRESSING, "True", RS_UPDATED, msg, now)
        if current is not None:
            if current.status == "True":
                cond.last_transition_time.CopyFrom(current.last_transition_time)
            remove_condition(st, PROGRESSING)
        set_condition(st, cond)
    elif timed_out(d, st, now):
        msg = (
            f'ReplicaSet "{rs_name}" has timed out progressing.'
            if new is not None
            else (f'Deployment "{d.metadata.name}" has timed out progressing.')
        )
        set_condition(st, new_condition(PROGRESSING, "False", TIMED_OUT, msg, now))
    return st


def requeue_for_deadline(d: apps_pb2.Deployment, st: apps_pb2.DeploymentStatus, now: float) -> float | None:
    """Seconds until the progress deadline should be checked again (None: nothing to watch)."""
    cond = get_condition(d.status, PROGRESSING)
    if not has_progress_deadline(d) or cond is None:
        return None
    if is_complete(d, st) or cond.reason in (TIMED_OUT, NEW_RS_AVAILABLE):
        return None
    after = cond.last_update_time.seconds + d.spec.progress_deadline_seconds - now
    return max(after, 0.0) + 1.0


def paused_condition(d: apps_pb2.Deployment, now: float | None = None) -> meta_pb2.Condition | None:
    """The Progressing condition a pause or resume calls for (None: leave it)."""
    if not has_progress_deadline(d):
        return None
    cond = get_condition(d.status, PROGRESSING)
    if cond is not None and cond.reason == TIMED_OUT:
        return None  # a reported lack of progress is not overwritten by a pause
    paused_now = cond is not None and cond.reason == PAUSED
    if d.spec.paused and not paused_now:
        return new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused", now)
    if not d.spec.paused and paused_now:
        return new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed", now)
    return None
