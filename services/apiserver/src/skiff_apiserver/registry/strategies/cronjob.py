"""CronJobs, as Kubernetes' cronjob strategy and SetDefaults_CronJob.

* Defaults: concurrencyPolicy Allow, suspend false, successfulJobsHistoryLimit 3, failedJobsHistoryLimit 1;
  the job template's pod restartPolicy Never.
* The schedule is parsed by croniter (the same library the controller runs), restricted to the five
  standard fields or an ``@hourly``-style macro. ``TZ=``/``CRON_TZ=`` prefixes are refused as Kubernetes
  refuses them: the time zone belongs in ``spec.timeZone``, which must name a zone the tz database knows.
* The name leaves room for the Job name suffix: at most 52 characters.
* The job template is validated as the Job it becomes (podFailurePolicy, completionMode, the pod spec...),
  with paths under ``spec.jobTemplate``.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

from croniter import croniter  # type: ignore[import-untyped]
from skiff.api.batch.v1 import batch_pb2
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.job import default_job_spec, generate_selector, validate_job
from skiff_apiserver.registry.strategies.podspec import default_pod_spec
from skiff_apiserver.registry.strategies.workload import non_negative
from skiff_apiserver.registry.strategy import Strategy

POLICIES = ("Allow", "Forbid", "Replace")
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
MAX_NAME = 52


def schedule_problem(schedule: str) -> str | None:
    """Why a schedule is not a standard cron schedule, or None when it is."""
    sched = schedule.strip()
    if "TZ=" in sched:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if sched.startswith("@"):
        return None if sched.lower() in MACROS else f"unsupported macro (supported: {', '.join(MACROS)})"
    if len(sched.split()) != 5:
        return "expected exactly 5 fields (minute hour day-of-month month day-of-week)"
    if not croniter.is_valid(sched):
        return "not a valid cron expression"
    return None


def time_zone_problem(name: str) -> str | None:
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        return f"unknown time zone {name}"
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name}"
    return None


class CronJobStrategy(Strategy):
    def default(self, obj: Any) -> None:
        spec = obj.spec
        if not spec.concurrency_policy:
            spec.concurrency_policy = "Allow"
        if not spec.HasField("suspend"):
            spec.suspend = False
        if not spec.HasField("successful_jobs_history_limit"):
            spec.successful_jobs_history_limit = 3
        if not spec.HasField("failed_jobs_history_limit"):
            spec.failed_jobs_history_limit = 1
        tmpl = spec.job_template.spec.template
        if not tmpl.spec.restart_policy:
            tmpl.spec.restart_policy = "Never"
        default_pod_spec(tmpl.spec)

    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        if len(obj.metadata.name) > MAX_NAME:
            errs.append(
                FieldError(
                    "metadata.name",
                    "Invalid value",
                    f"{obj.metadata.name!r}: must be no more than {MAX_NAME} characters",
                )
            )
        if not spec.schedule.strip():
            errs.append(FieldError("spec.schedule", "Required value"))
        elif (problem := schedule_problem(spec.schedule)) is not None:
            errs.append(FieldError("spec.schedule", "Invalid value", f"{spec.schedule!r}: {problem}"))
        if spec.HasField("time_zone") and (problem := time_zone_problem(spec.time_zone)) is not None:
            errs.append(FieldError("spec.timeZone", "Invalid value", f"{spec.time_zone!r}: {problem}"))
        if spec.concurrency_policy not in POLICIES:
            errs.append(
                FieldError(
                    "spec.concurrencyPolicy",
                    "Unsupported value",
                    f"{spec.concurrency_policy!r}: supported values: " + ", ".join(f'"{p}"' for p in POLICIES),
                )
            )
        if spec.HasField("starting_deadline_seconds"):
            errs += non_negative(spec.starting_deadline_seconds, "spec.startingDeadlineSeconds")
        errs += non_negative(spec.successful_jobs_history_limit, "spec.successfulJobsHistoryLimit")
        errs += non_negative(spec.failed_jobs_history_limit, "spec.failedJobsHistoryLimit")
        return errs + job_template_errors(obj)


def job_template_errors(cj: Any) -> list[FieldError]:
    """The job template checked as the Job it will become (Kubernetes' ValidateJobTemplateSpec), so a
    bad template is refused here rather than failing every schedule later with FailedCreate."""
    job = batch_pb2.Job()
    job.metadata.name, job.metadata.uid = cj.metadata.name, "cronjob-job-template"
    job.spec.CopyFrom(cj.spec.job_template.spec)
    default_job_spec(job.spec)
    if not job.spec.manual_selector:
        generate_selector(job)
    return [FieldError(f"spec.jobTemplate.{e.path}", e.reason, e.detail) for e in validate_job(job)]
