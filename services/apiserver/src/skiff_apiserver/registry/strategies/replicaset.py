"""ReplicaSets: 1 replica by default, selector immutable."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import default_template, non_negative, validate_template
from skiff_apiserver.registry.strategy import Strategy, immutable


class ReplicaSetStrategy(Strategy):
    def default(self, obj: Message) -> None:
        if not obj.spec.HasField("replicas"):  # type: ignore[attr-defined]
            obj.spec.replicas = 1  # type: ignore[attr-defined]
        default_template(obj.spec.template)  # type: ignore[attr-defined]

    def validate(self, obj: Message) -> list[FieldError]:
        spec = obj.spec  # type: ignore[attr-defined]
        return validate_template(spec.selector, spec.template, "spec") + non_negative(spec.replicas, "spec.replicas")

    def validate_update(self, new: Message, old: Message) -> list[FieldError]:
        return self.validate(new) + immutable("spec.selector", new.spec.selector, old.spec.selector)  # type: ignore[attr-defined]
