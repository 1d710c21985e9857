"""ControllerRevisions: Kubernetes' ValidateControllerRevision -- data required, revision >= 0 -- and data
immutable on update (a revision is a snapshot; only its number moves, when a rollback makes it current)."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategies.workload import non_negative
from skiff_apiserver.registry.strategy import Strategy, immutable


class ControllerRevisionStrategy(Strategy):
    def validate(self, obj: Any) -> list[FieldError]:
        errs = [] if obj.HasField("data") else [FieldError("data", "Required value")]
        return errs + non_negative(obj.revision, "revision")

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new) + immutable("data", new.data, old.data)
