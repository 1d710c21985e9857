"""ReplicaSets: 1 replica by default, selector immutable."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import default_template, non_negative, validate_template
from skiff_apiserver.registry.strategy import Strategy, immutable


class ReplicaSetStrategy(Strategy):
    def default(self, obj: Any) -> None:
        if not obj.spec.HasField("replicas"):
            obj.spec.replicas = 1
        default_template(obj.spec.template)

    def validate(self, obj: Any) -> list[FieldError]:
        spec = obj.spec
        return validate_template(spec.selector, spec.template, "spec") + non_negative(spec.replicas, "spec.replicas")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + immutable("spec.selector", new.spec.selector, old.spec.selector)
