"""VolumeBinding (stub): Skiff has no PersistentVolumeClaims yet, so PreFilter always answers Skip and
the plugin holds the extension points' place until the storage kinds exist."""

from __future__ import annotations

from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import PreFilterResult
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo


class VolumeBinding:
    name = "VolumeBinding"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        pass

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        return None, Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS
