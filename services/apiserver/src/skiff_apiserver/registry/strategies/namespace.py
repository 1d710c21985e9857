"""Namespaces: DNS-label names, phase Active on create, the "kubernetes" finalizer that the namespace
finalizer (registry/namespaces.py) removes once the namespace is empty."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategy import Strategy

FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Message) -> None:
        obj.ClearField("status")  # type: ignore[arg-type]
        obj.status.phase = "Active"  # type: ignore[attr-defined]
        if FINALIZER not in obj.spec.finalizers:  # type: ignore[attr-defined]
            obj.spec.finalizers.append(FINALIZER)  # type: ignore[attr-defined]

    def holds_deletion(self, obj: Message) -> bool:
        return bool(obj.spec.finalizers)  # type: ignore[attr-defined]

    def begin_delete(self, obj: Message) -> None:
        obj.status.phase = "Terminating"  # type: ignore[attr-defined]

    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1123_label(name, path)

    def merge_for_update(self, new: Message, old: Message) -> None:
        super().merge_for_update(new, old)
        # spec.finalizers is only changed by the namespace finalizer, never by a plain update.
        del new.spec.finalizers[:]  # type: ignore[attr-defined]
        new.spec.finalizers.extend(old.spec.finalizers)  # type: ignore[attr-defined]
