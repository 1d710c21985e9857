"""PriorityClasses (scheduling.k8s.io/v1): Kubernetes' validation.

A user class's value is at most 1,000,000,000; the ``system-`` prefix is reserved for the two built-in
classes (system-cluster-critical 2000000000, system-node-critical 2000001000); preemptionPolicy is
PreemptLowerPriority (the default) or Never; value and preemptionPolicy are immutable (pods already
carry the resolved numbers). The one-globalDefault rule needs the other classes and is checked by the
Priority admission plugin (admission/priority.py).
"""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy, immutable

HIGHEST_USER_DEFINABLE = 1_000_000_000
SYSTEM_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
POLICIES = ("PreemptLowerPriority", "Never")


class PriorityClassStrategy(Strategy):
    def default(self, obj: Any) -> None:
        if not obj.HasField("preemption_policy"):
            obj.preemption_policy = "PreemptLowerPriority"

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        name = obj.metadata.name
        if name.startswith("system-"):
            if SYSTEM_CLASSES.get(name) != obj.value:
                errs.append(
                    FieldError("metadata.name", "Forbidden", "priority class names with 'system-' prefix are reserved")
                )
        elif obj.value > HIGHEST_USER_DEFINABLE:
            errs.append(
                FieldError(
                    "value",
                    "Forbidden",
                    f"maximum allowed value of a user defined priority is {HIGHEST_USER_DEFINABLE}",
                )
            )
        if obj.preemption_policy not in POLICIES:
            errs.append(
                FieldError(
                    "preemptionPolicy",
                    "Unsupported value",
                    f'"{obj.preemption_policy}": supported values: "Never", "PreemptLowerPriority"',
                )
            )
        return errs

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return (
            self.validate(new)
            + immutable("value", new.value, old.value)
            + immutable("preemptionPolicy", new.preemption_policy, old.preemption_policy)
        )
