"""CronJobs: schedule required (five fields or @macro), concurrencyPolicy defaults to Allow."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.podspec import default_pod_spec, validate_pod_spec
from skiff_apiserver.registry.strategy import Strategy


class CronJobStrategy(Strategy):
    def default(self, obj: Any) -> None:
        spec = obj.spec
        if "concurrency_policy" in spec.DESCRIPTOR.fields_by_name and not spec.concurrency_policy:
            spec.concurrency_policy = "Allow"
        tmpl = spec.job_template.spec.template
        if not tmpl.spec.restart_policy:
            tmpl.spec.restart_policy = "Never"
        default_pod_spec(tmpl.spec)

    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs: list[FieldError] = []
        sched = spec.schedule.strip()
        if not sched:
            errs.append(FieldError("spec.schedule", "Required value"))
        elif not sched.startswith("@") and len(sched.split()) != 5:
            errs.append(FieldError("spec.schedule", "Invalid value", f"{sched!r}: expected exactly 5 fields"))
        errs += validate_pod_spec(spec.job_template.spec.template.spec, "spec.jobTemplate.spec.template.spec")
        return errs
