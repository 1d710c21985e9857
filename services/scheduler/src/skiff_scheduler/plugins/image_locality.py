"""ImageLocality: prefer nodes that already have the pod's images, weighted by how widely each image
is spread (an image on every node says little), as kube-scheduler scores it:

    sum over containers of size(image) x nodes_with_image / all_nodes, clamped to
    [23 MB, 1000 MB x containers] and scaled to 0..100.
"""

from __future__ import annotations

import itertools
from typing import Any

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.handle import Handle
from skiff_scheduler.framework.interfaces import MAX_NODE_SCORE
from skiff_scheduler.framework.status import SUCCESS, Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    """Docker's default tag: "busybox" and "busybox:latest" are one image."""
    if "@" in name or ":" in name.rsplit("/", 1)[-1]:
        return name
    return name + ":latest"


class ImageLocality:
    name = "ImageLocality"

    def __init__(self, args: dict[str, Any] | None = None, handle: Handle | None = None) -> None:
        self.handle = handle or Handle()

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        images = [
            normalized_image_name(c.image)
            for c in itertools.chain(pod.pod.spec.init_containers, pod.pod.spec.containers)
            if c.image
        ]
        if not self.handle.snapshot.image_nodes or not images:
            return Status.skip()  # no node reports images: every node scores 0
        state.write(self.name, images)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        images: list[str] = state.get(self.name) or []
        snap = self.handle.snapshot
        total_nodes = max(1, len(snap.nodes))
        total = 0
        for img in images:
            size = node.images.get(img)
            if size is None and img.endswith(":latest"):
                size = node.images.get(img[: -len(":latest")])
            if size is None:
                continue
            spread = snap.image_nodes.get(img, snap.image_nodes.get(img[: -len(":latest")], 1))
            total += size * spread // total_nodes
        max_threshold = MAX_CONTAINER_THRESHOLD * max(1, len(images))
        total = min(max(total, MIN_THRESHOLD), max_threshold)
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)
