"""Namespaces: DNS-label names, phase Active on create, the "kubernetes" finalizer that the namespace
finalizer (registry/namespaces.py) removes once the namespace is empty."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategy import Strategy

FINALIZER = "kubernetes"


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Any) -> None:
        obj.ClearField("status")
        obj.status.phase = "Active"
        if FINALIZER not in obj.spec.finalizers:
            obj.spec.finalizers.append(FINALIZER)

    def holds_deletion(self, obj: Any) -> bool:
        return bool(obj.spec.finalizers)

    def begin_delete(self, obj: Any) -> None:
        obj.status.phase = "Terminating"

    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1123_label(name, path)

    def merge_for_update(self, new: Any, old: Any) -> None:
        super().merge_for_update(new, old)
        # spec.finalizers is only changed by the namespace finalizer, never by a plain update.
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(old.spec.finalizers)
