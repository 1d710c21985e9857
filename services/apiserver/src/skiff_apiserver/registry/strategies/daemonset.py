"""DaemonSets: RollingUpdate (maxUnavailable 1) by default, selector immutable."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import default_template, validate_template
from skiff_apiserver.registry.strategy import Strategy, immutable


class DaemonSetStrategy(Strategy):
    def default(self, obj: Message) -> None:
        us = obj.spec.update_strategy  # type: ignore[attr-defined]
        us.type = us.type or "RollingUpdate"
        if us.type == "RollingUpdate" and not us.rolling_update.HasField("max_unavailable"):
            us.rolling_update.max_unavailable.int_val = 1
        if not obj.spec.HasField("revision_history_limit"):  # type: ignore[attr-defined]
            obj.spec.revision_history_limit = 10  # type: ignore[attr-defined]
        default_template(obj.spec.template)  # type: ignore[attr-defined]

    def validate(self, obj: Message) -> list[FieldError]:
        errs = validate_template(obj.spec.selector, obj.spec.template, "spec")  # type: ignore[attr-defined]
        if obj.spec.update_strategy.type not in ("RollingUpdate", "OnDelete"):  # type: ignore[attr-defined]
            errs.append(FieldError("spec.updateStrategy.type", "Unsupported value",
                                   repr(obj.spec.update_strategy.type)))  # type: ignore[attr-defined]
        return errs

    def validate_update(self, new: Message, old: Message) -> list[FieldError]:
        return self.validate(new) + immutable("spec.selector", new.spec.selector, old.spec.selector)  # type: ignore[attr-defined]
