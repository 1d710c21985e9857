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
