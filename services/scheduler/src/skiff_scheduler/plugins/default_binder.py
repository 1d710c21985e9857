"""DefaultBinder: writes the pods/binding subresource (the apiserver sets spec.nodeName)."""

from __future__ import annotations

from typing import Any

from skiff_common import errors

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import PodInfo


class DefaultBinder:
    name = "DefaultBinder"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle or Handle()

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        meta = pod.pod.metadata
        try:
            await self.handle.client.bind(meta.name, meta.namespace, node_name)
        except (errors.NotFound, errors.Conflict) as exc:
            return Status.error(f"binding rejected: {exc}")
        return SUCCESS
