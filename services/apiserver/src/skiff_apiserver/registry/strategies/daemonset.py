"""DaemonSets: RollingUpdate (maxUnavailable 1) by default, selector immutable, maxSurge and
maxUnavailable not both 0 (as for Deployments)."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import (
    default_template,
    validate_surge_and_unavailable,
    validate_template,
)
from skiff_apiserver.registry.strategy import Strategy, immutable


class DaemonSetStrategy(Strategy):
    def default(self, obj: Any) -> None:
        us = obj.spec.update_strategy
        us.type = us.type or "RollingUpdate"
        if us.type == "RollingUpdate" and not us.rolling_update.HasField("max_unavailable"):
            us.rolling_update.max_unavailable.int_val = 1
        if not obj.spec.HasField("revision_history_limit"):
            obj.spec.revision_history_limit = 10
        default_template(obj.spec.template)

    def validate(self, obj: Any) -> list[FieldError]:
        errs = validate_template(obj.spec.selector, obj.spec.template, "spec")
        if obj.spec.update_strategy.type not in ("RollingUpdate", "OnDelete"):
            errs.append(
                FieldError("spec.updateStrategy.type", "Unsupported value", repr(obj.spec.update_strategy.type))
            )
        elif obj.spec.update_strategy.type == "RollingUpdate":
            ru = obj.spec.update_strategy.rolling_update
            errs += validate_surge_and_unavailable(
                ru.max_surge, ru.max_unavailable, "spec.updateStrategy.rollingUpdate"
            )
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + immutable("spec.selector", new.spec.selector, old.spec.selector)
