"""CronJob controller rules as tables: schedules (croniter), missed times, concurrency, history, names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from skiff.api.batch.v1 import batch_pb2
from skiff_controllers.cronjob.schedule import SCHEDULED_TIMESTAMP, ScheduleError, job_name, parse
from skiff_controllers.cronjob.sync import job_from_template, job_ref, plan

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC).timestamp()  # a whole hour


@pytest.mark.parametrize(
    ("expr", "tz", "after", "expected"),
    [
        ("* * * * *", None, "2026-12-04T08:00:30+00:00", "2026-12-04T08:01:00+00:00"),
        ("*/15 * * * *", None, "2026-12-04T08:00:00+00:00", "2026-12-04T08:15:00+00:00"),
        ("@hourly", None, "2026-12-04T08:00:00+00:00", "2026-12-04T09:00:00+00:00"),
        ("@daily", None, "2026-12-04T08:00:00+00:00", "2026-12-05T00:00:00+00:00"),
        ("0 9 * * *", "Europe/Paris", "2026-12-04T07:00:00+00:00", "2026-12-04T08:00:00+00:00"),
        ("0 0 * * 1-5", None, "2026-12-04T08:00:00+00:00", "2026-12-07T00:00:00+00:00"),  # Fri -> Mon
    ],
)
def test_next_schedule_time(expr, tz, after, expected) -> None:
    got = parse(expr, tz).next_after(datetime.fromisoformat(after))
    assert got == datetime.fromisoformat(expected)


@pytest.mark.parametrize(
    ("expr", "tz", "needle"),
    [
        ("CRON_TZ=UTC * * * * *", None, "TZ or CRON_TZ"),
        ("TZ=UTC * * * * *", None, "TZ or CRON_TZ"),
        ("* * * *", None, "5 fields"),
        ("61 * * * *", None, "not a valid"),
        ("* * * * *", "Nowhere/Land", "unknown time zone"),
    ],
)
def test_bad_schedules(expr, tz, needle) -> None:
    with pytest.raises(ScheduleError, match=needle):
        parse(expr, tz)


def test_job_name_is_minutes_since_epoch() -> None:
    assert job_name("hello", datetime(2026, 12, 4, 8, 0, tzinfo=UTC)) == f"hello-{int(T0) // 60}"


def cronjob(schedule="* * * * *", policy="Allow", **spec) -> batch_pb2.CronJob:
    c = batch_pb2.CronJob(api_version="batch/v1", kind="CronJob")
    c.metadata.name, c.metadata.namespace, c.metadata.uid = "hello", "default", "cj-uid"
    c.metadata.creation_timestamp.FromSeconds(int(T0) - 30)
    c.spec.schedule, c.spec.concurrency_policy = schedule, policy
    c.spec.successful_jobs_history_limit, c.spec.failed_jobs_history_limit = 3, 1
    c.spec.job_template.metadata.labels["team"] = "a"
    c.spec.job_template.spec.template.spec.containers.add(name="hello", image="busybox:1.28")
    for k, v in spec.items():
        setattr(c.spec, k, v)
    return c


def child(minute: int, finished: str | None = None, completed_at: float | None = None) -> batch_pb2.Job:
    t = datetime.fromtimestamp(T0 + 60 * minute, UTC)
    j = job_from_template(cronjob(), t, batch_pb2.Job)
    j.metadata.uid = f"job-{minute}"
    j.status.start_time.FromSeconds(int(t.timestamp()))
    if finished:
        j.status.conditions.add(type=finished, status="True")
        if completed_at is not None:
            j.status.completion_time.FromSeconds(int(completed_at))
    return j


def test_not_due_yet_requeues_at_next_time() -> None:
    c = cronjob("*/5 * * * *")
    c.metadata.creation_timestamp.FromSeconds(int(T0) + 10)
    p = plan(c, [], T0 + 70)
    assert p.create is None and p.requeue_after == pytest.approx(230.1)


def test_due_creates_the_latest_time() -> None:
    p = plan(cronjob(), [], T0 + 5)
    assert p.create == datetime.fromtimestamp(T0, UTC) and p.requeue_after == pytest.approx(55.1)


def test_job_from_template() -> None:
    c = cronjob()
    j = job_from_template(c, datetime.fromtimestamp(T0, UTC), batch_pb2.Job)
    assert j.metadata.name == f"hello-{int(T0) // 60}" and j.metadata.labels["team"] == "a"
    assert j.metadata.annotations[SCHEDULED_TIMESTAMP] == "2026-12-04T08:00:00Z"
    ref = j.metadata.owner_references[0]
    assert (ref.kind, ref.uid, ref.controller) == ("CronJob", "cj-uid", True)
    assert j.spec.template.spec.containers[0].image == "busybox:1.28"


def test_already_scheduled_time_is_not_created_again() -> None:
    c = cronjob()
    c.status.last_schedule_time.FromSeconds(int(T0))
    assert plan(c, [], T0 + 30).create is None


def test_unrecorded_child_is_adopted_into_active_and_blocks_recreation() -> None:
    """The controller died after creating the Job and before writing the status."""
    p = plan(cronjob(), [child(0)], T0 + 5)
    assert [r.name for r in p.status.active] == [f"hello-{int(T0) // 60}"]
    assert p.status.last_schedule_time.seconds == int(T0) and p.create is None


def test_finished_child_leaves_active_with_event_and_last_successful_time() -> None:
    c = cronjob()
    done = child(-1, "Complete", T0 - 10)
    c.status.active.append(job_ref(done))
    c.status.last_schedule_time.FromSeconds(int(T0) - 60)
    p = plan(c, [done], T0 + 1)
    assert not p.status.active or p.status.active[0].name != done.metadata.name
    assert ("Normal", "SawCompletedJob", f"Saw completed job: {done.metadata.name}, condition: Complete") in p.events
    assert p.status.last_successful_time.seconds == int(T0) - 10
    assert p.create is not None


def test_forbid_skips_while_one_runs() -> None:
    c = cronjob(policy="Forbid")
    running = child(-1)
    c.status.active.append(job_ref(running))
    c.status.last_schedule_time.FromSeconds(int(T0) - 60)
    p = plan(c, [running], T0 + 1)
    assert p.create is None and p.events[-1][1] == "JobAlreadyActive"


def test_replace_deletes_the_running_one() -> None:
    c = cronjob(policy="Replace")
    running = child(-1)
    c.status.active.append(job_ref(running))
    c.status.last_schedule_time.FromSeconds(int(T0) - 60)
    p = plan(c, [running], T0 + 1)
    assert p.delete_active == [running.metadata.name] and p.create is not None and not p.status.active


def test_allow_runs_concurrently() -> None:
    c = cronjob()
    running = child(-1)
    c.status.active.append(job_ref(running))
    c.status.last_schedule_time.FromSeconds(int(T0) - 60)
    p = plan(c, [running], T0 + 1)
    assert p.create is not None and len(p.status.active) == 1


def test_suspended_creates_nothing() -> None:
    assert plan(cronjob(suspend=True), [], T0 + 5).create is None


def test_too_many_missed_warns_and_still_runs_the_latest() -> None:
    c = cronjob()
    c.metadata.creation_timestamp.FromSeconds(int(T0) - 3 * 3600)
    p = plan(c, [], T0 + 5)
    assert p.create == datetime.fromtimestamp(T0, UTC)
    assert any(e[1] == "TooManyMissedTimes" and "too many missed start times" in e[2] for e in p.events)


def test_starting_deadline_bounds_the_missed_count() -> None:
    c = cronjob(starting_deadline_seconds=200)
    c.metadata.creation_timestamp.FromSeconds(int(T0) - 3 * 3600)
    p = plan(c, [], T0 + 5)
    assert p.create == datetime.fromtimestamp(T0, UTC)
    assert not any(e[1] == "TooManyMissedTimes" for e in p.events)


def test_missed_beyond_starting_deadline() -> None:
    c = cronjob("0 * * * *", starting_deadline_seconds=10)
    c.status.last_schedule_time.FromSeconds(int(T0) - 3600)
    # 08:00 was due, but it is now 08:00:30 and the deadline is 10 s: MissSchedule, nothing started.
    p = plan(c, [], T0 + 30)
    assert p.create is None
    assert p.requeue_after == pytest.approx(3570.1)


def test_too_late_within_window_emits_miss_schedule() -> None:
    c = cronjob("0 * * * *", starting_deadline_seconds=100)
    c.status.last_schedule_time.FromSeconds(int(T0) - 3600)
    p = plan(c, [], T0 + 50)
    assert p.create == datetime.fromtimestamp(T0, UTC)
    p = plan(c, [], T0 + 101)
    assert p.create is None


def test_history_limits_prune_oldest() -> None:
    c = cronjob(suspend=True)
    jobs = [child(-m, "Complete", T0) for m in range(1, 6)] + [child(-m, "Failed") for m in range(6, 9)]
    p = plan(c, jobs, T0)
    pruned = sorted(j.metadata.uid for j in p.prune)
    assert pruned == sorted(["job--4", "job--5", "job--7", "job--8"])


def test_missing_active_job_is_dropped() -> None:
    c = cronjob(suspend=True)
    gone = child(-1)
    c.status.active.append(job_ref(gone))
    p = plan(c, [], T0)
    assert not p.status.active and p.events[0][1] == "MissingJob"


def test_time_zone_decides_the_time() -> None:
    c = cronjob("0 9 * * *", time_zone="Europe/Paris")
    c.metadata.creation_timestamp.FromSeconds(int(T0) - 60)
    p = plan(c, [], T0 + 1)  # 08:00 UTC = 09:00 Paris
    assert p.create is not None and p.create.timestamp() == T0
    assert job_from_template(c, p.create, batch_pb2.Job).metadata.annotations[SCHEDULED_TIMESTAMP] == (
        "2026-12-04T09:00:00+01:00"
    )


def test_bad_stored_schedule_or_zone_is_an_event_not_a_crash() -> None:
    """Objects stored before validation existed: Kubernetes' UnparseableSchedule / UnknownTimeZone."""
    p = plan(cronjob("61 * * * *"), [], T0)
    assert p.create is None and p.events[-1][:2] == ("Warning", "UnparseableSchedule")
    assert p.events[-1][2].startswith('unparseable schedule: "61 * * * *" : ')
    p = plan(cronjob(time_zone="Mars/Olympus"), [], T0)
    assert p.events[-1] == (
        "Warning",
        "UnknownTimeZone",
        'invalid timeZone: "Mars/Olympus": unknown time zone Mars/Olympus',
    )
