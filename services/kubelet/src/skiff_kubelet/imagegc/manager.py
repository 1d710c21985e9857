"""The image GC manager: remove unused images, least recently used first, when the image disk fills up.

    every 5 min (Kubernetes' ImageGCPeriod; --image-gc-period here):
      detect: CRI ListImages + ListContainers (every state: a stopped container keeps its image)
              -> per image: first detected (by this kubelet), last used (now, while any container has it)
      max age (--image-maximum-gc-age): images unused for longer are removed          reason "age"
              (only once the kubelet has run that long: it cannot know what was used before it started)
      usage = 100 - available*100/capacity of the image filesystem (CRI ImageFsInfo's mountpoint, statvfs)
      usage >= high: free capacity*(100-low)/100 - available bytes,                  reason "space"
                     unused images in (last used, first detected) order, none first seen < min age ago
                     -> too little freed: FreeDiskSpaceFailed Event on the Node
      a round that fails twice in a row: ImageGCFailed Event on the Node (as the kubelet's GC loop)

The eviction manager calls `delete_unused_images` under DiskPressure before it evicts any pod (Kubernetes'
node-level reclaim): every unused image old enough goes, whatever the thresholds.

In-use and recency are the kubelet's own bookkeeping, in memory: after a restart every image is "first
detected" again, so nothing is removed for --image-minimum-gc-age, which is what Kubernetes does too.
Pinned images (the runtime says so) are never removed. The runtime refuses to remove an image a container
still uses, so a race with a starting container fails that removal rather than breaking the container.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import Counter
from skiff.api.core.v1 import node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient, EventRecorder
from skiff_client.cri import call
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet.imagegc.policy import ImageGCPolicy

log = get_logger("skiff_kubelet.imagegc")
COLLECTED = Counter(
    "kubelet_image_garbage_collected_total",
    "Total number of images garbage collected by the kubelet, whether through disk usage or image age.",
    ["reason"],
)


@dataclass
class ImageRecord:
    first_detected: float
    last_used: float = 0.0
    size: int = 0


def eviction_order(images: dict[str, ImageRecord], in_use: set[str]) -> list[tuple[str, ImageRecord]]:
    """Unused images, least recently used first, then the earliest detected (Kubernetes' order)."""
    unused = [(i, r) for i, r in images.items() if i not in in_use]
    return sorted(unused, key=lambda item: (item[1].last_used, item[1].first_detected))


class ImageGCError(Exception):
    """A collection round could not do what the policy asks (the message is the Event's)."""


class ImageGCManager:
    def __init__(
        self,
        cri_client: CriClient,
        events: EventRecorder,
        policy: ImageGCPolicy,
        *,
        node_name: str,
        period: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cri, self.events, self.policy, self.period, self.clock = cri_client, events, policy, period, clock
        self.node = node_pb2.Node(  # the kubelet's nodeRef: its uid is the node's name
            api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=node_name, uid=node_name)
        )
        self.images: dict[str, ImageRecord] = {}
        self.began = clock()  # max age counts only once this kubelet has watched that long
        self._lock = asyncio.Lock()  # the GC loop and the eviction manager never remove at the same time

    async def run(self) -> None:
        failed_before = False
        while True:
            try:
                await self.garbage_collect()
                failed_before = False
            except Exception as exc:  # a failed round must not end image GC
                log.warning("imagegc.round_failed", error=str(exc))
                if failed_before:
                    self.events.record(self.node, "Warning", "ImageGCFailed", str(exc))
                failed_before = True
            await asyncio.sleep(self.period)

    async def detect(self, now: float) -> set[str]:
        """Refresh the records from the runtime; returns the ids of images some container uses."""
        images = (await call(self.cri.images.ListImages(cri.ListImagesRequest()))).images
        containers = (await call(self.cri.runtime.ListContainers(cri.ListContainersRequest()))).containers
        refs = {r for c in containers for r in (c.image_id, c.image_ref, c.image.image) if r}
        in_use = set()
        for image in images:
            record = self.images.setdefault(image.id, ImageRecord(first_detected=now))
            record.size = image.size
            if image.pinned or refs & {image.id, *image.repo_tags, *image.repo_digests}:
                in_use.add(image.id)
                record.last_used = now
        for gone in set(self.images) - {i.id for i in images}:
            del self.images[gone]
        return in_use

    async def _remove(self, image_id: str, reason: str) -> bool:
        try:
            await call(self.cri.images.RemoveImage(cri.RemoveImageRequest(image=cri.ImageSpec(image=image_id))))
        except errors.SkiffError as exc:
            log.warning("imagegc.remove_failed", image=image_id, error=str(exc))
            return False
        self.images.pop(image_id, None)
        COLLECTED.labels(reason).inc()
        log.info("imagegc.removed", image=image_id, reason=reason)
        return True

    async def _free_space(self, to_free: int, now: float, in_use: set[str]) -> int:
        freed = 0
        for image_id, record in eviction_order(self.images, in_use):
            if record.last_used >= now or now - record.first_detected < self.policy.min_age:
                continue
            if await self._remove(image_id, "space"):
                freed += record.size
                if freed >= to_free:
                    break
        return freed

    async def image_fs(self) -> tuple[int, int]:
        """(capacity, available) bytes of the filesystem the runtime keeps its images on."""
        info = await call(self.cri.images.ImageFsInfo(cri.ImageFsInfoRequest()))
        if not info.image_filesystems or not info.image_filesystems[0].fs_id.mountpoint:
            raise ImageGCError("the runtime reports no image filesystem (ImageFsInfo)")
        path = info.image_filesystems[0].fs_id.mountpoint
        try:
            st = await asyncio.to_thread(os.statvfs, path)
        except OSError as exc:
            raise ImageGCError(f"statvfs of the image filesystem {path}: {exc}") from exc
        capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
        return capacity, min(available, capacity)

    async def garbage_collect(self) -> int:
        """One round of the policy; returns the bytes freed; ImageGCError when it could not free enough."""
        async with self._lock:
            now = self.clock()
            in_use = await self.detect(now)
            freed = 0
            if self.policy.max_age > 0 and now - self.began > self.policy.max_age:
                for image_id, record in eviction_order(self.images, in_use):
                    if now - record.last_used > self.policy.max_age:
                        if await self._remove(image_id, "age"):
                            freed += record.size
            capacity, available = await self.image_fs()
            if capacity == 0:
                text = "invalid capacity 0 on image filesystem"
                self.events.record(self.node, "Warning", "InvalidDiskCapacity", text)
                raise ImageGCError(text)
            usage = 100 - available * 100 // capacity
            if usage < self.policy.high_threshold_percent:
                return freed
            to_free = capacity * (100 - self.policy.low_threshold_percent) // 100 - available
            log.info(
                "imagegc.over_high_threshold", usage=usage, high=self.policy.high_threshold_percent,
                low=self.policy.low_threshold_percent, to_free=to_free,
            )  # fmt: skip
            space = await self._free_space(to_free, now, in_use)
            if space < to_free:
                text = (
                    f"Failed to garbage collect required amount of images. Attempted to free {to_free} bytes, "
                    f"but only found {space} bytes eligible to free."
                )
                self.events.record(self.node, "Warning", "FreeDiskSpaceFailed", text)
                raise ImageGCError(text)
            return freed + space

    async def delete_unused_images(self) -> int:
        """Every unused image old enough, whatever the usage (the eviction manager's reclaim)."""
        async with self._lock:
            now = self.clock()
            in_use = await self.detect(now)
            return await self._free_space(1 << 62, now, in_use)
