"""Namespaces: DNS-label names, phase Active on create, and Kubernetes' "kubernetes" spec finalizer.

Deleting a namespace marks it Terminating (deletionTimestamp, status.phase) and keeps it while
spec.finalizers is not empty. The controllers' namespace controller empties it and then takes its
finalizer off through the `finalize` subresource (Kubernetes' PUT namespaces/{name}/finalize); the update
that leaves spec.finalizers empty removes the namespace. A plain update never changes spec.finalizers.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategy import Strategy, copy

FINALIZER = "kubernetes"
# Created at start-up; kube-node-lease holds the kubelets' heartbeat Leases, as in Kubernetes.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


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

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, f in enumerate(obj.spec.finalizers):
            if f != FINALIZER:
                errs += validation.validate_label_key(f, f"spec.finalizers[{i}]")
        return errs

    def merge_for_update(self, new: Any, old: Any) -> None:
        super().merge_for_update(new, old)
        # spec.finalizers only changes through the finalize subresource.
        del new.spec.finalizers[:]
        new.spec.finalizers.extend(old.spec.finalizers)

    def merge_for_subresource_update(self, subresource: str, new: Any, old: Any) -> Message:
        if subresource == "finalize":
            out: Any = copy(old)
            del out.spec.finalizers[:]
            out.spec.finalizers.extend(new.spec.finalizers)
            return out  # type: ignore[no-any-return]
        return super().merge_for_subresource_update(subresource, new, old)
