"""Schedule arithmetic for CronJobs, on croniter (no parser of our own).

Times are evaluated in ``spec.timeZone`` (zoneinfo) or UTC when unset (Kubernetes uses the
controller-manager's local zone; Skiff's components run in UTC). ``most_recent`` is Kubernetes'
``mostRecentScheduleTime``: the latest schedule time in (earliest, now], and how many were missed, counted
only up to 101 -- beyond 100 Kubernetes warns "too many missed start times" and still runs the latest.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from croniter import croniter  # type: ignore[import-untyped]

TOO_MANY_MISSED = 100
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"


class ScheduleError(ValueError):
    """The schedule or time zone cannot be used (the apiserver validates both; kept for old objects)."""


@dataclass(frozen=True)
class Schedule:
    expr: str
    tz: tzinfo

    def next_after(self, t: datetime) -> datetime:
        nxt: datetime = croniter(self.expr, t.astimezone(self.tz)).get_next(datetime)
        return nxt

    def prev_at_or_before(self, t: datetime) -> datetime:
        local = t.astimezone(self.tz)
        if croniter.match(self.expr, local) and local.second == 0 and local.microsecond == 0:
            return local
        prev: datetime = croniter(self.expr, local).get_prev(datetime)
        return prev

    def most_recent(self, earliest: datetime, now: datetime) -> tuple[datetime | None, int]:
        """(latest schedule time in (earliest, now], number of such times capped at TOO_MANY_MISSED + 1)."""
        first = self.next_after(earliest)
        if first > now:
            return None, 0
        it = croniter(self.expr, first.astimezone(self.tz))
        latest, count = first, 1
        while count <= TOO_MANY_MISSED:
            nxt: datetime = it.get_next(datetime)
            if nxt > now:
                return latest, count
            latest, count = nxt, count + 1
        return self.prev_at_or_before(now), count


def parse(schedule: str, time_zone: str | None) -> Schedule:
    sched = schedule.strip()
    if "TZ=" in sched:
        raise ScheduleError("cannot use TZ or CRON_TZ in schedule, use timeZone field instead")
    if not sched.startswith("@") and len(sched.split()) != 5:
        raise ScheduleError(f"{sched!r}: expected exactly 5 fields")
    if not croniter.is_valid(sched):
        raise ScheduleError(f"{sched!r}: not a valid cron expression")
    tz: tzinfo = UTC
    if time_zone:
        try:
            tz = zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ScheduleError(f"unknown time zone {time_zone}") from exc
    return Schedule(sched, tz)


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    """``<cronjob>-<minutes since the epoch>``: one name per schedule time, so a second create for the same
    time is AlreadyExists, whoever (or whichever incarnation of the controller) tries."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def scheduled_annotation(scheduled: datetime) -> str:
    """RFC 3339 in the CronJob's zone, as Go's time.RFC3339 writes it ("Z" for a zero offset)."""
    text = scheduled.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
