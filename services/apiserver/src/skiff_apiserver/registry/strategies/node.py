"""Nodes: cluster-scoped; the kubelet registers a node with its status, so create keeps status."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class NodeStrategy(Strategy):
    def prepare_for_create(self, obj: Any) -> None:
        pass  # Nodes allow status on create (the kubelet registers itself with capacity and addresses).

    def validate(self, obj: Any) -> list[FieldError]:
        errs: list[FieldError] = []
        for i, t in enumerate(obj.spec.taints):
            if not t.key:
                errs.append(FieldError(f"spec.taints[{i}].key", "Required value"))
            if t.effect not in EFFECTS:
                errs.append(FieldError(f"spec.taints[{i}].effect", "Unsupported value", repr(t.effect)))
        return errs
