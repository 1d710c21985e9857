"""Shared checks for controllers with a selector and a pod template (Deployment, ReplicaSet, DaemonSet,
Job): the selector is required, must select the template's labels and is immutable after creation."""

from __future__ import annotations

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import labels, validation
from skiff_apiserver.registry.strategies.podspec import default_pod_spec, validate_pod_spec


def validate_template(
    selector: meta_pb2.LabelSelector | None,
    template: pod_pb2.PodTemplateSpec,
    path: str,
    *,
    require_selector: bool = True,
) -> list[FieldError]:
    errs: list[FieldError] = []
    if selector is not None:
        if require_selector and not selector.match_labels and not selector.match_expressions:
            errs.append(FieldError(f"{path}.selector", "Required value"))
        else:
            errs += validation.validate_labels(selector.match_labels, f"{path}.selector.matchLabels")
            try:
                sel = labels.selector_from_proto(selector)
            except ValueError as exc:
                errs.append(FieldError(f"{path}.selector", "Invalid value", str(exc)))
            else:
                if not sel.matches(template.metadata.labels):
                    errs.append(
                        FieldError(
                            f"{path}.template.metadata.labels",
                            "Invalid value",
                            "`selector` does not match template `labels`",
                        )
                    )
    errs += validation.validate_labels(template.metadata.labels, f"{path}.template.metadata.labels")
    errs += validate_pod_spec(template.spec, f"{path}.template.spec")
    return errs


def default_template(template: pod_pb2.PodTemplateSpec) -> None:
    default_pod_spec(template.spec)


def non_negative(value: int, path: str) -> list[FieldError]:
    return [FieldError(path, "Invalid value", f"{value}: must be greater than or equal to 0")] if value < 0 else []


def int_or_percent(value: meta_pb2.IntOrString, path: str) -> tuple[int, list[FieldError]]:
    """Kubernetes' ValidatePositiveIntOrPercent: a number >= 0 or "N%"; returns (N, errors)."""
    kind = value.WhichOneof("value")
    if kind == "str_val":
        text = value.str_val
        if not (text.endswith("%") and text[:-1].isdigit()):
            detail = "a valid percent string must be a numeric string followed by an ending '%'"
            return 0, [validation.invalid(path, text, detail)]
        return int(text[:-1]), []
    if kind == "int_val":
        return value.int_val, non_negative(value.int_val, path)
    return 0, []


def validate_surge_and_unavailable(
    max_surge: meta_pb2.IntOrString, max_unavailable: meta_pb2.IntOrString, path: str
) -> list[FieldError]:
    """Kubernetes' rule for rolling updates (Deployments and DaemonSets): both numbers valid, maxUnavailable
    at most 100%, and not both 0 -- a rollout that may neither add nor remove a pod never moves."""
    surge, errs = int_or_percent(max_surge, f"{path}.maxSurge")
    unavailable, more = int_or_percent(max_unavailable, f"{path}.maxUnavailable")
    errs += more
    if not errs and surge == 0 and unavailable == 0:
        shown: object = max_unavailable.str_val if max_unavailable.WhichOneof("value") == "str_val" else 0
        errs.append(validation.invalid(f"{path}.maxUnavailable", shown, "may not be 0 when `maxSurge` is 0"))
    if max_unavailable.WhichOneof("value") == "str_val" and unavailable > 100:
        errs.append(
            validation.invalid(f"{path}.maxUnavailable", max_unavailable.str_val, "must not be greater than 100%")
        )
    return errs
