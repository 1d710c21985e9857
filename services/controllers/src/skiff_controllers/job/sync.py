"""One Job sync as a pure function: (job, its pods, the clock) -> a plan of writes.

The controller (controller.py) only executes plans, so every rule here is table-tested without a server.

Finished pods are tracked as Kubernetes does (``batch.kubernetes.io/job-tracking`` finalizer +
``status.uncountedTerminatedPods``), in three steps that survive a crash between any two of them:

1. ``plan``: a finished pod that still carries the finalizer and is not yet recorded goes into
   ``status.uncountedTerminatedPods`` (failed, and succeeded for NonIndexed) or straight into
   ``completedIndexes`` (Indexed: the index itself makes a second count impossible). This status is
   written first.
2. The controller removes the finalizer of those pods (``Plan.untrack``).
3. ``settle``: a uid in uncountedTerminatedPods whose pod no longer carries the finalizer moves into
   ``succeeded``/``failed``, in the same status write that removes it from the uncounted list.

A pod is therefore counted exactly once, whether the controller dies after step 1, 2 or 3. Pods the
controller deletes for ``suspend`` or lowered parallelism lose the finalizer first (never counted, as in
Kubernetes); active pods of a failing Job are deleted with it and count as failed.

Finishing is two-phase like Kubernetes 1.31: FailureTarget / SuccessCriteriaMet first, and the final
Failed / Complete (+ completionTime) once no pod is active and nothing is left uncounted.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from skiff_controllers.job import indexes
from skiff_controllers.job.policy import backoff_remaining, match_pod_failure_policy
from skiff_controllers.job.status import (
    FINALIZER,
    condition,
    finish_time,
    finished_phase,
    has_finalizer,
    is_active,
    is_failed,
    is_finished,
    is_ready,
    is_true,
    pod_failure_time,
    set_condition,
    terminating,
    ts,
)

BURST = 100  # at most this many pod creations per sync

MSG_BACKOFF = "Job has reached the specified backoff limit"
MSG_DEADLINE = "Job was active longer than specified deadline"


@dataclass
class Backoff:
    """Consecutive failures since the last success, and when the last one happened (in memory, as in
    Kubernetes' backoffRecordStore; a restarted controller starts with no delay)."""

    failures: int = 0
    last_failure: float | None = None


@dataclass
class Plan:
    status: Any  # JobStatus to write first (step 1)
    create: list[int | None] = field(default_factory=list)  # completion indexes (None: NonIndexed)
    delete_tracked: list[Any] = field(default_factory=list)  # delete, finalizer kept: counts as failed
    delete_untracked: list[Any] = field(default_factory=list)  # remove finalizer, then delete: never counted
    untrack: list[Any] = field(default_factory=list)  # pods whose finalizer goes after the status write
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (type, reason, message)
    requeue_after: float | None = None
    backoff: Backoff = field(default_factory=Backoff)


__all__ = ["FINALIZER", "Backoff", "Plan", "is_finished", "plan", "settle", "ts", "ttl_remaining"]


# -- the plan --------------------------------------------------------------------------------------------
def plan(job: Any, pods: list[Any], now: float, backoff: Backoff, *, expectations_satisfied: bool = True) -> Plan:
    spec = job.spec
    st = copy.deepcopy(job.status)
    out = Plan(status=st, backoff=Backoff(backoff.failures, backoff.last_failure))
    if is_finished(job):
        out.untrack = [p for p in pods if has_finalizer(p)]
        return out
    indexed = spec.completion_mode == "Indexed"
    completions = spec.completions if spec.HasField("completions") else None
    uncounted_s, uncounted_f = set(st.uncounted_terminated_pods.succeeded), set(st.uncounted_terminated_pods.failed)
    done_idx = indexes.parse(st.completed_indexes, completions or 0) if indexed else set()

    # Step 1: record newly finished pods.
    fail_job: str | None = None
    new_failed = new_succeeded = 0
    for pod in pods:
        uid = pod.metadata.uid
        if not has_finalizer(pod):
            continue
        if uid in uncounted_s or uid in uncounted_f:
            out.untrack.append(pod)
            continue
        if pod.status.phase == "Succeeded":
            if indexed:
                idx = indexes.pod_index(pod, completions or 0)
                if idx is not None and idx not in done_idx:
                    done_idx.add(idx)
                    new_succeeded += 1
            else:
                uncounted_s.add(uid)
                st.uncounted_terminated_pods.succeeded.append(uid)
                new_succeeded += 1
            out.untrack.append(pod)
        elif is_failed(pod, job, failing=is_true(st, "FailureTarget")):
            match = (
                match_pod_failure_policy(spec.pod_failure_policy, pod) if spec.HasField("pod_failure_policy") else None
            )
            if match is not None and match.action == "Ignore":
                out.untrack.append(pod)  # not counted, no back-off
                continue
            if match is not None and match.action == "FailJob" and fail_job is None:
                fail_job = match.message
            uncounted_f.add(uid)
            st.uncounted_terminated_pods.failed.append(uid)
            new_failed += 1
            out.backoff.failures += 1
            t = pod_failure_time(pod, now)
            out.backoff.last_failure = max(t, out.backoff.last_failure or t)
            out.untrack.append(pod)
    if new_succeeded:
        out.backoff = Backoff(0, None)
    if indexed:
        st.completed_indexes = indexes.format_indexes(done_idx)
        st.succeeded = len(done_idx)

    active = [p for p in pods if is_active(p)]
    st.active = len(active)
    st.ready = sum(1 for p in active if is_ready(p))
    st.terminating = sum(1 for p in pods if terminating(p) and not finished_phase(p))
    failed_total = st.failed + len(uncounted_f)
    succeeded_total = st.succeeded + (0 if indexed else len(uncounted_s))

    # Suspension: no pods; the deadline clock stops (startTime is reset on resume).
    if spec.suspend:
        out.delete_untracked = active
        st.active = 0
        if set_condition(st, "Suspended", "True", "JobSuspended", "Job suspended", now):
            out.events.append(("Normal", "Suspended", "Job suspended"))
        st.ClearField("start_time")
        return out
    if is_true(st, "Suspended"):
        set_condition(st, "Suspended", "False", "JobResumed", "Job resumed", now)
        out.events.append(("Normal", "Resumed", "Job resumed"))
    if not st.HasField("start_time"):
        st.start_time.CopyFrom(ts(now))
    started = st.start_time.ToNanoseconds() / 1e9

    # Has the Job failed or succeeded?
    target = _failure(job, st, fail_job, failed_total, pods, started, now)
    success = None if target else _success(spec, indexed, completions, succeeded_total, done_idx, active)
    if target is not None:
        reason, message = target
        set_condition(st, "FailureTarget", "True", reason, message, now)
        out.delete_tracked = active
        st.active = st.ready = 0
    elif success is not None or is_true(st, "SuccessCriteriaMet"):
        set_condition(
            st, "SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods", now
        )
        out.delete_untracked = active
        st.active = st.ready = 0
    elif expectations_satisfied:
        _manage(job, indexed, completions, succeeded_total, done_idx, active, now, out)
    if target is None and spec.HasField("active_deadline_seconds"):
        left = started + spec.active_deadline_seconds - now
        out.requeue_after = left if out.requeue_after is None else min(out.requeue_after, left)
    return out


def _failure(
    job: Any, st: Any, fail_job: str | None, failed: int, pods: list[Any], started: float, now: float
) -> tuple[str, str] | None:
    spec = job.spec
    prior = condition(st, "FailureTarget")
    if prior is not None and prior.status == "True":
        return prior.reason, prior.message
    if fail_job is not None:
        return "PodFailurePolicy", fail_job
    restarts = 0
    if spec.template.spec.restart_policy == "OnFailure":
        restarts = sum(
            cs.restart_count
            for p in pods
            if is_active(p)
            for cs in [*p.status.container_statuses, *p.status.init_container_statuses]
        )
    if failed + restarts > spec.backoff_limit:
        return "BackoffLimitExceeded", MSG_BACKOFF
    if spec.HasField("active_deadline_seconds") and now - started >= spec.active_deadline_seconds:
        return "DeadlineExceeded", MSG_DEADLINE
    return None


def _success(
    spec: Any, indexed: bool, completions: int | None, succeeded: int, done_idx: set[int], active: list[Any]
) -> bool | None:
    if indexed:
        return True if completions is not None and len(done_idx) >= completions else None
    if completions is None:  # work queue: one success and nothing left running
        return True if succeeded > 0 and not active else None
    return True if succeeded >= completions else None


def _manage(
    job: Any,
    indexed: bool,
    completions: int | None,
    succeeded: int,
    done_idx: set[int],
    active: list[Any],
    now: float,
    out: Plan,
) -> None:
    """Create or delete pods so that the right number run (Kubernetes' manageJob)."""
    spec = job.spec
    parallelism = spec.parallelism
    if indexed:
        assert completions is not None
        by_index: dict[int, list[Any]] = {}
        for p in active:
            idx = indexes.pod_index(p, completions)
            if idx is None or idx in done_idx:
                out.delete_untracked.append(p)  # bad index, or its index already succeeded
            else:
                by_index.setdefault(idx, []).append(p)
        for pods_of_index in by_index.values():
            out.delete_untracked.extend(sorted(pods_of_index, key=lambda p: p.metadata.name)[1:])
        if out.delete_untracked:
            return  # create after these deletions are observed (one kind of expectation at a time)
        want = min(parallelism, completions - len(done_idx))
        running = len(by_index)
        if running > want:
            for idx in sorted(by_index, reverse=True)[: running - want]:
                out.delete_untracked.extend(by_index[idx][:1])
            return
        new = indexes.first_pending(done_idx, set(by_index), completions, min(want - running, BURST))
        if new:
            _create(out, list(new), now)
        return
    if completions is None:  # work queue: after the first success, only let the others finish
        want = len(active) if succeeded > 0 else parallelism
    else:
        want = min(parallelism, completions - succeeded)
    if len(active) > want:
        newest_first = sorted(
            active, key=lambda p: (p.metadata.creation_timestamp.ToNanoseconds(), p.metadata.name), reverse=True
        )
        out.delete_untracked = newest_first[: len(active) - want]
    elif len(active) < want:
        _create(out, [None] * min(want - len(active), BURST), now)


def _create(out: Plan, which: list[int | None], now: float) -> None:
    wait = backoff_remaining(out.backoff.failures, out.backoff.last_failure, now)
    if wait > 0:
        out.requeue_after = wait
        return
    out.create = which


# -- step 3 ----------------------------------------------------------------------------------------------
def settle(
    job: Any, status: Any, still_tracked: set[str], expected_active: int, now: float
) -> tuple[Any, list[tuple[str, str, str]]]:
    """Move uncounted uids whose pods lost the finalizer into the counters, and finish the Job when it
    reached its target and nothing is active or uncounted. ``still_tracked`` are uids of pods that still
    carry the finalizer after the controller removed what it could; ``expected_active`` the pods it
    believes still run (created or not yet gone)."""
    st = copy.deepcopy(status)
    events: list[tuple[str, str, str]] = []
    unc = st.uncounted_terminated_pods
    moved_s = [u for u in unc.succeeded if u not in still_tracked]
    moved_f = [u for u in unc.failed if u not in still_tracked]
    st.succeeded += len(moved_s)
    st.failed += len(moved_f)
    unc.succeeded[:] = [u for u in unc.succeeded if u in still_tracked]
    unc.failed[:] = [u for u in unc.failed if u in still_tracked]
    if not unc.succeeded and not unc.failed:
        st.ClearField("uncounted_terminated_pods")
    if unc.succeeded or unc.failed or expected_active > 0 or is_finished(job):
        return st, events
    target = condition(st, "FailureTarget")
    if target is not None and target.status == "True":
        set_condition(st, "Failed", "True", target.reason, target.message, now)
        events.append(("Warning", target.reason, target.message))
    elif is_true(st, "SuccessCriteriaMet"):
        set_condition(st, "Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods", now)
        st.completion_time.CopyFrom(ts(now))
        events.append(("Normal", "Completed", "Job completed"))
    return st, events


def ttl_remaining(job: Any, now: float) -> float | None:
    """Seconds until a finished Job with ttlSecondsAfterFinished may be deleted (<= 0: now), else None."""
    if not job.spec.HasField("ttl_seconds_after_finished") or not is_finished(job):
        return None
    done = finish_time(job)
    if done is None:
        return None
    return float(done + job.spec.ttl_seconds_after_finished - now)
