"""Deployments: Kubernetes' defaults (1 replica, RollingUpdate 25%/25%, history 10, deadline 600s),
selector immutable, replicas >= 0, a rolling update that can move (maxSurge and maxUnavailable not both
0, maxUnavailable at most 100%), and no rollingUpdate parameters under Recreate."""

from __future__ import annotations

from typing import Any

from skiff.api.apps.v1 import apps_pb2
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import (
    default_template,
    non_negative,
    validate_surge_and_unavailable,
    validate_template,
)
from skiff_apiserver.registry.strategy import Strategy, immutable

STRATEGIES = ("RollingUpdate", "Recreate")


class DeploymentStrategy(Strategy):
    def default(self, obj: Any) -> None:
        spec: apps_pb2.DeploymentSpec = obj.spec
        if not spec.HasField("replicas"):
            spec.replicas = 1
        spec.strategy.type = spec.strategy.type or "RollingUpdate"
        if spec.strategy.type == "RollingUpdate":
            ru = spec.strategy.rolling_update
            if not ru.HasField("max_unavailable"):
                ru.max_unavailable.str_val = "25%"
            if not ru.HasField("max_surge"):
                ru.max_surge.str_val = "25%"
        if not spec.HasField("revision_history_limit"):
            spec.revision_history_limit = 10
        if not spec.HasField("progress_deadline_seconds"):
            spec.progress_deadline_seconds = 600
        default_template(spec.template)

    def validate(self, obj: Any) -> list[FieldError]:
        spec: apps_pb2.DeploymentSpec = obj.spec
        errs = validate_template(spec.selector, spec.template, "spec")
        errs += non_negative(spec.replicas, "spec.replicas")
        if spec.strategy.type not in STRATEGIES:
            errs.append(FieldError("spec.strategy.type", "Unsupported value", repr(spec.strategy.type)))
        elif spec.strategy.type == "RollingUpdate":
            ru = spec.strategy.rolling_update
            errs += validate_surge_and_unavailable(ru.max_surge, ru.max_unavailable, "spec.strategy.rollingUpdate")
        elif spec.strategy.HasField("rolling_update"):
            errs.append(
                FieldError(
                    "spec.strategy.rollingUpdate",
                    "Forbidden",
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            )
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + immutable("spec.selector", new.spec.selector, old.spec.selector)
