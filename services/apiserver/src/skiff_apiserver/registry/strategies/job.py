"""Jobs: Kubernetes' defaults (parallelism 1, completions 1, backoffLimit 6); the template must not
restart Always; selector and template are immutable."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import default_template, non_negative, validate_template
from skiff_apiserver.registry.strategy import Strategy, immutable


class JobStrategy(Strategy):
    def default(self, obj: Any) -> None:
        spec = obj.spec
        if not spec.HasField("parallelism"):
            spec.parallelism = 1
        if not spec.HasField("completions"):
            spec.completions = 1
        if not spec.HasField("backoff_limit"):
            spec.backoff_limit = 6
        if not spec.HasField("completion_mode"):
            spec.completion_mode = "NonIndexed"
        if not spec.template.spec.restart_policy:
            spec.template.spec.restart_policy = "Never"
        default_template(spec.template)

    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        errs = validate_template(spec.selector if spec.HasField("selector") else None, spec.template, "spec")
        errs += non_negative(spec.parallelism, "spec.parallelism") + non_negative(
            spec.backoff_limit, "spec.backoffLimit"
        )
        if spec.template.spec.restart_policy not in ("OnFailure", "Never"):
            errs.append(
                FieldError(
                    "spec.template.spec.restartPolicy",
                    "Unsupported value",
                    f'{spec.template.spec.restart_policy!r}: supported values: "OnFailure", "Never"',
                )
            )
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return (
            self.validate(new)
            + immutable("spec.selector", new.spec.selector, old.spec.selector)
            + immutable("spec.template", new.spec.template, old.spec.template)
        )
