"""The eviction manager: local storage limits, node pressure conditions and eviction under pressure.

    every --eviction-monitoring-interval (10 s): the node's own sample (/proc, statvfs: cheap)
      -> signals (signals.py) vs thresholds (thresholds.py): met now (conditions), met for their grace
         period (eviction)
      -> MemoryPressure / DiskPressure / PIDPressure for the Node status, held True for
         --eviction-pressure-transition-period (5 min) after the last time a threshold was met
      -> pods with an emptyDir sizeLimit or an ephemeral-storage limit: their usage measured
         (local_storage.py); each pod over a limit is evicted with Kubernetes' message; the round ends
      -> under a disk threshold: node-level reclaim first, every unused image (imagegc/), then the
         threshold is measured again and no pod is evicted if it is no longer met
      -> under an eviction threshold: one stats snapshot (shared with /stats/summary) for the pods' usage,
         rank the active pods (ranking.py), evict the first: status phase
         Failed, reason Evicted, Kubernetes' message, a DisruptionTarget condition and an Evicted Event;
         the pod's worker then stops its containers as for any failed pod

One pod per interval for node pressure, as Kubernetes does, so the effect of an eviction is measured
before the next; a pod over its own limit is evicted whatever the node's state (its limit is its own).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable

from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient, EventRecorder, Informer
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_kubelet.eviction import local_storage
from skiff_kubelet.eviction.ranking import CRITICAL_PRIORITY, Candidate, message, rank
from skiff_kubelet.eviction.signals import CONDITION, RESOURCE, observe
from skiff_kubelet.eviction.thresholds import Threshold
from skiff_kubelet.imagegc.manager import ImageGCManager
from skiff_kubelet.stats import host
from skiff_kubelet.stats.collector import StatsProvider

log = get_logger("skiff_kubelet.eviction")
TEXTS = {
    "MemoryPressure": (("KubeletHasInsufficientMemory", "kubelet has insufficient memory available"),
                       ("KubeletHasSufficientMemory", "kubelet has sufficient memory available")),
    "DiskPressure": (("KubeletHasDiskPressure", "kubelet has disk pressure"),
                     ("KubeletHasNoDiskPressure", "kubelet has no disk pressure")),
    "PIDPressure": (("KubeletHasInsufficientPID", "kubelet has insufficient PID available"),
                    ("KubeletHasSufficientPID", "kubelet has sufficient PID available")),
}  # fmt: skip
ORDER = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "pid.available")


class EvictionManager:
    def __init__(
        self,
        api: ApiClient,
        events: EventRecorder,
        stats: StatsProvider,
        pods: Informer[pod_pb2.Pod],
        thresholds: list[Threshold],
        *,
        interval: float = 10.0,
        transition_period: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        image_gc: ImageGCManager | None = None,
        root_dir: str = "",
        pod_log_dir: str = "",
    ) -> None:
        self.api, self.events, self.stats, self.pods = api, events, stats, pods
        self.image_gc, self.root_dir, self.pod_log_dir = image_gc, root_dir, pod_log_dir
        self.thresholds = thresholds
        self.interval, self.transition_period, self.clock = interval, transition_period, clock
        self.first_observed: dict[Threshold, float] = {}
        self.last_met: dict[str, float] = {}

    def conditions(self) -> dict[str, tuple[str, str, str]]:
        """Node condition type -> (status, reason, message) for the Node status (node_status.py)."""
        now, out = self.clock(), {}
        for condition, (true, false) in TEXTS.items():
            met = self.last_met.get(condition)
            out[condition] = (
                ("True", *true) if met is not None and now - met < self.transition_period else ("False", *false)
            )
        return out

    def ephemeral_storage(self) -> tuple[int, int]:
        """Node ephemeral-storage (capacity, allocatable): the kubelet's filesystem, allocatable less the
        nodefs.available hard threshold, as Kubernetes' node allocatable subtracts hard eviction thresholds."""
        fs = host.filesystem(self.stats.root_dir) or host.filesystem("/")
        if fs is None:
            return 0, 0
        reserved = max(
            (t.value(fs.capacity) for t in self.thresholds if t.signal == "nodefs.available" and not t.soft),
            default=0,
        )
        return fs.capacity, max(fs.capacity - reserved, 0)

    async def run(self) -> None:
        while True:
            try:
                await self.synchronize()
            except Exception as exc:  # a failed round must not end eviction
                log.warning("eviction.round_failed", error=str(exc))
            await asyncio.sleep(self.interval)

    def _active(self) -> list[pod_pb2.Pod]:
        return [
            p
            for p in self.pods.store.list()
            if p.status.phase not in ("Succeeded", "Failed") and not p.metadata.HasField("deletion_timestamp")
        ]

    async def local_storage_eviction(self) -> list[pod_pb2.Pod]:
        """Evict every pod over an emptyDir sizeLimit or its ephemeral-storage limits (local_storage.py)."""
        pods = [p for p in self._active() if local_storage.has_limits(p) and p.spec.priority < CRITICAL_PRIORITY]
        if not pods:
            return []
        snap = await self.stats.get()
        rootfs: dict[str, dict[str, int]] = {}
        for sample in snap.pods:
            per = rootfs.setdefault(sample.uid, {})
            for c in sample.containers:  # a restarted container's old layer may still be listed: the larger
                per[c.name] = max(per.get(c.name, 0), c.rootfs_used)

        def measure() -> dict[str, local_storage.PodStorage]:
            return {
                p.metadata.uid: local_storage.measure(
                    p, rootfs.get(p.metadata.uid, {}), root_dir=self.root_dir, pod_log_dir=self.pod_log_dir
                )
                for p in pods
            }

        usage = await asyncio.to_thread(measure)
        evicted = []
        for pod in pods:
            text = local_storage.verdict(pod, usage[pod.metadata.uid])
            if text is not None:
                updated = await self._evict(pod, text, None)
                if updated is not None:
                    evicted.append(updated)
        return evicted

    async def synchronize(self) -> pod_pb2.Pod | None:
        node = await asyncio.to_thread(host.node_sample, self.stats.root_dir)
        observed = observe(node, self.stats.memory_capacity)
        now = self.clock()
        due: list[tuple[Threshold, int, int]] = []
        for t in self.thresholds:
            if t.signal not in observed:
                continue
            available, capacity = observed[t.signal]
            value = t.value(capacity)
            if available >= value:
                self.first_observed.pop(t, None)
                continue
            self.last_met[CONDITION[t.signal]] = now
            if now - self.first_observed.setdefault(t, now) >= t.grace_period:
                due.append((t, value, available))
        # As Kubernetes: conditions are updated first, then local storage limits; a round that evicted
        # for them ends there.
        if self.root_dir:
            evicted = await self.local_storage_eviction()
            if evicted:
                return evicted[0]
        if not due:
            return None
        threshold, value, available = min(due, key=lambda d: ORDER.index(d[0].signal))
        resource = RESOURCE[threshold.signal]
        if resource in ("ephemeral-storage", "inodes") and await self._reclaimed(threshold):
            return None
        snap = await self.stats.get()  # the pods' usage, only now that one must be chosen
        usage = {p.uid: p for p in snap.pods}
        candidates = []
        for pod in self._active():
            sample = usage.get(pod.metadata.uid)
            if resource == "memory":
                per = {c.name: c.memory_working_set for c in sample.containers} if sample else {}
            else:
                per = {c.name: c.rootfs_used for c in sample.containers} if sample else {}
            total = sum(per.values()) + (sample.logs_bytes if sample and resource != "memory" else 0)
            candidates.append(Candidate(pod, total, per))
        ranked = rank(candidates, resource)
        if not ranked:
            log.warning("eviction.nothing_to_evict", signal=threshold.signal)
            return None
        victim = ranked[0]
        return await self._evict(victim.pod, message(resource, value, available, victim), resource)

    async def _reclaimed(self, threshold: Threshold) -> bool:
        """Node-level reclaim before any pod is evicted for disk: every unused image; True when the
        threshold is no longer met afterwards."""
        if self.image_gc is None:
            return False
        try:
            freed = await self.image_gc.delete_unused_images()
        except Exception as exc:  # reclaim failing must not stop eviction
            log.warning("eviction.reclaim_failed", signal=threshold.signal, error=str(exc))
            return False
        if not freed:
            return False
        node = await asyncio.to_thread(host.node_sample, self.stats.root_dir)
        available, capacity = observe(node, self.stats.memory_capacity).get(threshold.signal, (0, 0))
        if available < threshold.value(capacity):
            return False
        log.info("eviction.reclaimed", signal=threshold.signal, freed=freed)
        self.first_observed.pop(threshold, None)
        return True

    async def _evict(self, original: pod_pb2.Pod, text: str, resource: str | None) -> pod_pb2.Pod | None:
        """Phase Failed, reason Evicted; node pressure (a resource) also adds a DisruptionTarget condition, as
        Kubernetes does; a pod over its own storage limit gets none (Kubernetes passes no condition)."""
        m = original.metadata
        pod = copy.deepcopy(original)
        pod.status.phase, pod.status.reason, pod.status.message = "Failed", "Evicted", text
        if resource is not None:
            cond = pod.status.conditions.add(type="DisruptionTarget", status="True", reason="TerminationByKubelet")
            cond.message = f"The node was low on resource: {resource}. "
            cond.last_transition_time.CopyFrom(now_timestamp())
        try:
            updated = await self.api.update_status(pod)
        except (errors.NotFound, errors.Conflict) as exc:
            log.info("eviction.retry_next_round", pod=f"{m.namespace}/{m.name}", error=str(exc))
            return None
        self.events.record(pod, "Warning", "Evicted", text)
        log.warning("pod.evicted", pod=f"{m.namespace}/{m.name}", message=text)
        return updated
