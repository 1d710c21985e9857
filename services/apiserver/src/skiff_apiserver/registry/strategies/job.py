"""Jobs, as Kubernetes' job strategy and SetDefaults_Job.

* Defaults: parallelism 1; completions 1 only when neither is given (parallelism alone is the "work
  queue" pattern: completions stays unset); backoffLimit 6; completionMode NonIndexed; suspend false;
  restartPolicy Never; a podFailurePolicy onPodConditions pattern's status True.
* The selector is generated on create unless ``manualSelector`` is true: the template gets the
  ``batch.kubernetes.io/controller-uid``, ``controller-uid``, ``batch.kubernetes.io/job-name`` and
  ``job-name`` labels and the selector is ``batch.kubernetes.io/controller-uid=<uid>``; a selector the
  client wrote without manualSelector is refused ("`selector` not auto-generated"), as Kubernetes does.
* podFailurePolicy needs restartPolicy Never; each rule has exactly one of onExitCodes/onPodConditions.
* selector, template, completionMode, completions and podFailurePolicy are immutable.
"""

from __future__ import annotations

from typing import Any

from skiff_common.apimachinery import validation as meta_validation
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import default_template, non_negative, validate_template
from skiff_apiserver.registry.strategy import Strategy, immutable

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
LEGACY_CONTROLLER_UID = "controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_JOB_NAME = "job-name"

ACTIONS = ("FailJob", "Ignore", "Count")  # FailIndex needs backoffLimitPerIndex, which Skiff lacks
OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("True", "False", "Unknown")
MAX_RULES = 20
MAX_EXIT_CODES = 255
MAX_INDEXED_COMPLETIONS = 100_000


def _unsupported(path: str, value: str, allowed: tuple[str, ...]) -> FieldError:
    return FieldError(
        path, "Unsupported value", f"{value!r}: supported values: " + ", ".join(f'"{a}"' for a in allowed)
    )


def generate_selector(job: Any) -> None:
    """Kubernetes' generateSelector: labels the template and selects on the controller uid. Labels the
    client already set are kept (a conflicting value then fails the selector match in validation)."""
    tmpl_labels = job.spec.template.metadata.labels
    uid, name = job.metadata.uid, job.metadata.name
    for key, value in ((LEGACY_JOB_NAME, name), (JOB_NAME, name), (LEGACY_CONTROLLER_UID, uid), (CONTROLLER_UID, uid)):
        if key not in tmpl_labels:
            tmpl_labels[key] = value
    if CONTROLLER_UID not in job.spec.selector.match_labels:
        job.spec.selector.match_labels[CONTROLLER_UID] = uid


def validate_pod_failure_policy(spec: Any) -> list[FieldError]:
    path = "spec.podFailurePolicy"
    errs: list[FieldError] = []
    if spec.template.spec.restart_policy != "Never":
        errs.append(
            FieldError(
                "spec.template.spec.restartPolicy",
                "Invalid value",
                f'{spec.template.spec.restart_policy!r}: only "Never" is supported when podFailurePolicy is specified',
            )
        )
    rules = spec.pod_failure_policy.rules
    if len(rules) > MAX_RULES:
        errs.append(FieldError(f"{path}.rules", "Too many", f"{len(rules)}: must have at most {MAX_RULES} items"))
    containers = {c.name for c in spec.template.spec.containers} | {c.name for c in spec.template.spec.init_containers}
    for i, rule in enumerate(rules):
        rp = f"{path}.rules[{i}]"
        if not rule.action:
            errs.append(FieldError(f"{rp}.action", "Required value"))
        elif rule.action not in ACTIONS:
            errs.append(_unsupported(f"{rp}.action", rule.action, ACTIONS))
        has_codes, has_conds = rule.HasField("on_exit_codes"), len(rule.on_pod_conditions) > 0
        if has_codes and has_conds:
            errs.append(
                FieldError(rp, "Invalid value", "specifying both OnExitCodes and OnPodConditions is not supported")
            )
        elif not has_codes and not has_conds:
            errs.append(
                FieldError(rp, "Invalid value", "specifying one of OnExitCodes and OnPodConditions is required")
            )
        if has_codes:
            errs += _validate_exit_codes(rule.on_exit_codes, f"{rp}.onExitCodes", containers)
        for j, pattern in enumerate(rule.on_pod_conditions):
            pp = f"{rp}.onPodConditions[{j}]"
            if not pattern.type:
                errs.append(FieldError(f"{pp}.type", "Required value"))
            else:
                errs += [
                    FieldError(f"{pp}.type", "Invalid value", f"{pattern.type!r}: {p}")
                    for p in meta_validation.qualified_name_problems(pattern.type)
                ]
            if pattern.status not in CONDITION_STATUSES:
                errs.append(_unsupported(f"{pp}.status", pattern.status, CONDITION_STATUSES))
    return errs


def _validate_exit_codes(req: Any, path: str, containers: set[str]) -> list[FieldError]:
    errs: list[FieldError] = []
    if req.HasField("container_name") and req.container_name not in containers:
        errs.append(
            FieldError(
                f"{path}.containerName",
                "Invalid value",
                f"{req.container_name!r}: must be one of the container or initContainer names in the pod template",
            )
        )
    if req.operator not in OPERATORS:
        errs.append(_unsupported(f"{path}.operator", req.operator, OPERATORS))
    values = list(req.values)
    if not values:
        errs.append(FieldError(f"{path}.values", "Invalid value", "at least one value is required"))
    if len(values) > MAX_EXIT_CODES:
        errs.append(
            FieldError(f"{path}.values", "Too many", f"{len(values)}: must have at most {MAX_EXIT_CODES} items")
        )
    for k, v in enumerate(values):
        if k and v <= values[k - 1]:
            errs.append(FieldError(f"{path}.values[{k}]", "Invalid value", f"{v}: must be ordered and unique"))
        if req.operator == "In" and v == 0:
            errs.append(FieldError(f"{path}.values[{k}]", "Invalid value", "0: must not be 0 for the In operator"))
    return errs


def default_job_spec(spec: Any) -> None:
    """SetDefaults_Job on a spec (shared with the CronJob strategy's check of its job template)."""
    if not spec.HasField("completions") and not spec.HasField("parallelism"):
        spec.completions = 1
    if not spec.HasField("parallelism"):
        spec.parallelism = 1
    if not spec.HasField("backoff_limit"):
        spec.backoff_limit = 6
    if not spec.HasField("completion_mode"):
        spec.completion_mode = "NonIndexed"
    if not spec.HasField("suspend"):
        spec.suspend = False
    if not spec.HasField("manual_selector"):
        spec.manual_selector = False
    for rule in spec.pod_failure_policy.rules:
        for pattern in rule.on_pod_conditions:
            pattern.status = pattern.status or "True"
    if not spec.template.spec.restart_policy:
        spec.template.spec.restart_policy = "Never"
    default_template(spec.template)


def validate_job(obj: Any) -> list[FieldError]:
    """Every field error of a Job (after defaulting and selector generation)."""
    spec = obj.spec
    errs = validate_template(spec.selector if spec.HasField("selector") else None, spec.template, "spec")
    if not spec.HasField("selector"):
        errs.append(FieldError("spec.selector", "Required value"))
    elif not spec.manual_selector and dict(spec.selector.match_labels) != {CONTROLLER_UID: obj.metadata.uid}:
        errs.append(FieldError("spec.selector", "Invalid value", "`selector` not auto-generated"))
    elif not spec.manual_selector and spec.selector.match_expressions:
        errs.append(FieldError("spec.selector", "Invalid value", "`selector` not auto-generated"))
    errs += non_negative(spec.parallelism, "spec.parallelism") + non_negative(spec.backoff_limit, "spec.backoffLimit")
    if spec.HasField("completions"):
        errs += non_negative(spec.completions, "spec.completions")
    if spec.HasField("active_deadline_seconds") and spec.active_deadline_seconds <= 0:
        errs.append(
            FieldError(
                "spec.activeDeadlineSeconds",
                "Invalid value",
                f"{spec.active_deadline_seconds}: must be greater than 0",
            )
        )
    if spec.HasField("ttl_seconds_after_finished"):
        errs += non_negative(spec.ttl_seconds_after_finished, "spec.ttlSecondsAfterFinished")
    if spec.completion_mode not in ("NonIndexed", "Indexed"):
        errs.append(_unsupported("spec.completionMode", spec.completion_mode, ("NonIndexed", "Indexed")))
    elif spec.completion_mode == "Indexed":
        if not spec.HasField("completions"):
            errs.append(FieldError("spec.completions", "Required value", "when completion mode is Indexed"))
        elif spec.completions > MAX_INDEXED_COMPLETIONS:
            errs.append(
                FieldError(
                    "spec.completions",
                    "Invalid value",
                    f"must be less than or equal to {MAX_INDEXED_COMPLETIONS} when completion mode is Indexed",
                )
            )
    if spec.template.spec.restart_policy not in ("OnFailure", "Never"):
        errs.append(
            _unsupported("spec.template.spec.restartPolicy", spec.template.spec.restart_policy, ("OnFailure", "Never"))
        )
    elif spec.HasField("pod_failure_policy"):
        errs += validate_pod_failure_policy(spec)
    return errs


class JobStrategy(Strategy):
    def default(self, obj: Any) -> None:
        default_job_spec(obj.spec)

    def prepare_for_create(self, obj: Any) -> None:
        super().prepare_for_create(obj)
        if not obj.spec.manual_selector:
            generate_selector(obj)

    def validate(self, obj: Any) -> list[FieldError]:
        return validate_job(obj)

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return (
            self.validate(new)
            + immutable("spec.selector", new.spec.selector, old.spec.selector)
            + immutable("spec.template", new.spec.template, old.spec.template)
            + immutable("spec.completionMode", new.spec.completion_mode, old.spec.completion_mode)
            + immutable("spec.completions", new.spec.completions, old.spec.completions)
            + immutable("spec.podFailurePolicy", new.spec.pod_failure_policy, old.spec.pod_failure_policy)
        )
