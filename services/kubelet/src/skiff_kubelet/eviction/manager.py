"""The eviction manager: node pressure conditions and eviction of one pod at a time under pressure.

    every --eviction-monitoring-interval (10 s): the node's own sample (/proc, statvfs: cheap)
      -> signals (signals.py) vs thresholds (thresholds.py): met now (conditions), met for their grace
         period (eviction)
      -> MemoryPressure / DiskPressure / PIDPressure for the Node status, held True for
         --eviction-pressure-transition-period (5 min) after the last time a threshold was met
      -> under an eviction threshold: one stats snapshot (shared with /stats/summary) for the pods' usage,
         rank the active pods (ranking.py), evict the first: status phase
         Failed, reason Evicted, Kubernetes' message, a DisruptionTarget condition and an Evicted Event;
         the pod's worker then stops its containers as for any failed pod

One pod per interval, as Kubernetes does, so the effect of an eviction is measured before the next.
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

from skiff_kubelet.eviction.ranking import Candidate, message, rank
from skiff_kubelet.eviction.signals import CONDITION, RESOURCE, observe
from skiff_kubelet.eviction.thresholds import Threshold
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
    ) -> None:
        self.api, self.events, self.stats, self.pods = api, events, stats, pods
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

    async def run(self) -> None:
        while True:
            try:
                await self.synchronize()
            except Exception as exc:  # a failed round must not end eviction
                log.warning("eviction.round_failed", error=str(exc))
            await asyncio.sleep(self.interval)

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
        if not due:
            return None
        threshold, value, available = min(due, key=lambda d: ORDER.index(d[0].signal))
        resource = RESOURCE[threshold.signal]
        snap = await self.stats.get()  # the pods' usage, only now that one must be chosen
        usage = {p.uid: p for p in snap.pods}
        candidates = []
        for pod in self.pods.store.list():
            if pod.status.phase in ("Succeeded", "Failed") or pod.metadata.HasField("deletion_timestamp"):
                continue
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
        return await self._evict(victim, message(resource, value, available, victim), resource)

    async def _evict(self, c: Candidate, text: str, resource: str) -> pod_pb2.Pod | None:
        m = c.pod.metadata
        pod = copy.deepcopy(c.pod)
        pod.status.phase, pod.status.reason, pod.status.message = "Failed", "Evicted", text
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
