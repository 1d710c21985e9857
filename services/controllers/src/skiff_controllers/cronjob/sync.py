"""One CronJob sync as a pure function (Kubernetes' cronjob controller v2 ``syncCronJob``).

    children   -> status.active (finished ones leave it: SawCompletedJob), lastSuccessfulTime
    suspended  -> nothing to start
    scheduled  = most recent schedule time in (lastScheduleTime or creation, now], bounded below by
                 now - startingDeadlineSeconds; > 100 missed -> TooManyMissedTimes warning, latest still runs
    too late   -> MissSchedule (scheduled + startingDeadlineSeconds < now)
    already    -> the Job for that time is known (active, or lastScheduleTime == scheduled)
    Forbid     -> JobAlreadyActive while one runs;  Replace -> delete the active ones first
    create     -> Job "<cronjob>-<minutes>", then lastScheduleTime = scheduled; requeue at the next time

A Job that is unfinished, owned, and missing from ``status.active`` is added to it (Kubernetes only warns
"UnexpectedJob"): that happens when the controller died between creating a Job and writing the status,
and without it ``Forbid`` would be blind to that Job after a restart.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from skiff.api.core.v1 import references_pb2

from skiff_controllers.cronjob.schedule import (
    SCHEDULED_TIMESTAMP,
    TOO_MANY_MISSED,
    ScheduleError,
    from_epoch,
    job_name,
    parse,
    scheduled_annotation,
)

NEXT_SLACK = 0.1  # requeue a little after the next schedule time, never a little before


@dataclass
class CronPlan:
    status: Any
    create: datetime | None = None  # the schedule time to start a Job for
    delete_active: list[str] = field(default_factory=list)  # Replace: active Job names
    prune: list[Any] = field(default_factory=list)  # finished Jobs beyond the history limits
    events: list[tuple[str, str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def _finished(job: Any) -> str | None:
    for c in job.status.conditions:
        if c.type in ("Complete", "Failed") and c.status == "True":
            return str(c.type)
    return None


def _seconds(ts: Any) -> float:
    return float(ts.ToNanoseconds()) / 1e9


def job_ref(job: Any) -> references_pb2.ObjectReference:
    return references_pb2.ObjectReference(
        api_version="batch/v1",
        kind="Job",
        namespace=job.metadata.namespace,
        name=job.metadata.name,
        uid=job.metadata.uid,
        resource_version=job.metadata.resource_version,
    )


def _reconcile_children(cj: Any, jobs: list[Any], st: Any, out: CronPlan) -> None:
    by_uid = {j.metadata.uid: j for j in jobs}
    keep = []
    for ref in st.active:
        j = by_uid.get(ref.uid)
        if j is None:
            out.events.append(("Normal", "MissingJob", f"Active job went missing: {ref.name}"))
            continue
        if (cond := _finished(j)) is not None:
            out.events.append(("Normal", "SawCompletedJob", f"Saw completed job: {j.metadata.name}, condition: {cond}"))
            continue
        keep.append(ref)
    known = {r.uid for r in keep}
    for j in sorted(jobs, key=lambda j: j.metadata.name):
        if _finished(j) is None and j.metadata.uid not in known and not j.metadata.HasField("deletion_timestamp"):
            keep.append(job_ref(j))
            _bump_last_schedule(st, j)
        if _finished(j) == "Complete" and j.status.HasField("completion_time"):
            if not st.HasField("last_successful_time") or _seconds(j.status.completion_time) > _seconds(
                st.last_successful_time
            ):
                st.last_successful_time.CopyFrom(j.status.completion_time)
    del st.active[:]
    st.active.extend(keep)


def _bump_last_schedule(st: Any, job: Any) -> None:
    raw = job.metadata.annotations.get(SCHEDULED_TIMESTAMP)
    if not raw:
        return
    try:
        t = datetime.fromisoformat(raw)
    except ValueError:
        return
    if not st.HasField("last_schedule_time") or t.timestamp() > _seconds(st.last_schedule_time):
        st.last_schedule_time.FromSeconds(int(t.timestamp()))


def _prune(cj: Any, jobs: list[Any], out: CronPlan) -> None:
    """Finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit, oldest first."""
    for kind, limit in (
        ("Complete", cj.spec.successful_jobs_history_limit),
        ("Failed", cj.spec.failed_jobs_history_limit),
    ):
        done = [j for j in jobs if _finished(j) == kind and not j.metadata.HasField("deletion_timestamp")]
        done.sort(
            key=lambda j: (_seconds(j.status.start_time) if j.status.HasField("start_time") else 0.0, j.metadata.name)
        )
        out.prune.extend(done[: max(0, len(done) - limit)])


def plan(cj: Any, jobs: list[Any], now: float) -> CronPlan:
    """``jobs`` are the Jobs this CronJob controls (by controller UID)."""
    st = copy.deepcopy(cj.status)
    out = CronPlan(status=st)
    _reconcile_children(cj, jobs, st, out)
    _prune(cj, jobs, out)
    if cj.metadata.HasField("deletion_timestamp") or cj.spec.suspend:
        return out
    try:
        sched = parse(cj.spec.schedule, cj.spec.time_zone if cj.spec.HasField("time_zone") else None)
    except ScheduleError as exc:
        if "time zone" in str(exc):
            out.events.append(("Warning", "UnknownTimeZone", f'invalid timeZone: "{cj.spec.time_zone}": {exc}'))
        else:
            out.events.append(("Warning", "UnparseableSchedule", f'unparseable schedule: "{cj.spec.schedule}" : {exc}'))
        return out
    now_dt = from_epoch(now)
    earliest = from_epoch(
        _seconds(st.last_schedule_time)
        if st.HasField("last_schedule_time")
        else _seconds(cj.metadata.creation_timestamp)
    )
    deadline = cj.spec.starting_deadline_seconds if cj.spec.HasField("starting_deadline_seconds") else None
    if deadline is not None:
        earliest = max(earliest, now_dt - timedelta(seconds=deadline))
    out.requeue_after = (sched.next_after(now_dt) - now_dt).total_seconds() + NEXT_SLACK
    scheduled, missed = sched.most_recent(earliest, now_dt)
    if scheduled is None:
        return out
    if missed > TOO_MANY_MISSED:
        out.events.append(
            (
                "Warning",
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        )
    if deadline is not None and scheduled + timedelta(seconds=deadline) < now_dt:
        out.events.append(
            (
                "Warning",
                "MissSchedule",
                "Missed scheduled time to start a job: "
                + scheduled.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S %z"),
            )
        )
        return out
    name = job_name(cj.metadata.name, scheduled)
    if any(r.name == name for r in st.active) or (
        st.HasField("last_schedule_time") and _seconds(st.last_schedule_time) >= scheduled.timestamp()
    ):
        return out
    if st.active and cj.spec.concurrency_policy == "Forbid":
        out.events.append(
            (
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
        )
        return out
    if st.active and cj.spec.concurrency_policy == "Replace":
        out.delete_active = [r.name for r in st.active]
        del st.active[:]
    out.create = scheduled
    return out


def job_from_template(cj: Any, scheduled: datetime, job_cls: type) -> Any:
    """The Job for one schedule time: the template's labels and annotations, the scheduled-timestamp
    annotation (in the CronJob's zone, as Kubernetes writes it) and a controller reference."""
    tmpl = cj.spec.job_template
    job = job_cls(api_version="batch/v1", kind="Job")
    job.metadata.name = job_name(cj.metadata.name, scheduled)
    job.metadata.namespace = cj.metadata.namespace
    job.metadata.labels.update(tmpl.metadata.labels)
    job.metadata.annotations.update(tmpl.metadata.annotations)
    job.metadata.annotations[SCHEDULED_TIMESTAMP] = scheduled_annotation(scheduled)
    ref = job.metadata.owner_references.add()
    ref.api_version, ref.kind, ref.name, ref.uid = "batch/v1", "CronJob", cj.metadata.name, cj.metadata.uid
    ref.controller = ref.block_owner_deletion = True
    job.spec.CopyFrom(tmpl.spec)
    return job
