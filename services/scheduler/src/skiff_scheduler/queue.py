"""The scheduling queue: activeQ, backoffQ and the unschedulable pool, as kube-scheduler has them.

    new/updated pod --> activeQ (heap ordered by the profile's QueueSort: priority, then age) --> pop
    attempt failed, Error / event arrived mid-cycle --> backoffQ (1 s doubling per attempt, cap 10 s)
    attempt failed, Unschedulable --> unschedulable pool, tagged with the plugins that rejected it
    cluster event E --> every parked pod one of whose rejecting plugins registered E (and whose
        QueueingHint, if any, says Queue) moves to backoffQ, or activeQ if its backoff has passed
    every 1 s: backoffQ pods whose backoff passed --> activeQ
    every 30 s: pods parked longer than 5 min --> backoffQ/activeQ (the safety net)

Parking instead of retrying on a timer is what keeps 10,000 unschedulable pods from burning the
scheduler: only an event that can help wakes a pod up.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from skiff.api.core.v1 import pod_pb2

from skiff_scheduler import metrics
from skiff_scheduler.framework.interfaces import ClusterEvent, ClusterEventWithHint
from skiff_scheduler.framework.types import PodInfo

INITIAL_BACKOFF = 1.0
MAX_BACKOFF = 10.0
UNSCHEDULABLE_TIMEOUT = 300.0
ACTIVE, BACKOFF, UNSCHEDULABLE = "active", "backoff", "unschedulable"

Less = Callable[[PodInfo, float, PodInfo, float], bool]


@dataclass(eq=False)
class QueuedPodInfo:
    info: PodInfo
    timestamp: float  # when it last entered the queue (age for QueueSort)
    initial_attempt: float | None = None  # first pop: start of the SLI latency
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)
    backoff_expiry: float = 0.0
    parked_at: float = 0.0
    where: str = ""
    less: Less | None = None

    @property
    def key(self) -> str:
        return self.info.key

    def __lt__(self, other: QueuedPodInfo) -> bool:
        if self.where == BACKOFF:
            return self.backoff_expiry < other.backoff_expiry
        assert self.less is not None
        return self.less(self.info, self.timestamp, other.info, other.timestamp)


class SchedulingQueue:
    def __init__(
        self,
        less: Less,
        events_by_plugin: dict[str, list[ClusterEventWithHint]],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.less = less
        self.events_by_plugin = events_by_plugin
        self.clock = clock
        self._active: list[QueuedPodInfo] = []
        self._backoff: list[QueuedPodInfo] = []
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._where: dict[str, QueuedPodInfo] = {}  # key -> entry in active/backoff/unschedulable
        self._nonempty = asyncio.Event()
        self._closed = False
        self.scheduling_cycle = 0
        self._move_request_cycle = -1

    # -- add / update / delete -------------------------------------------------------------------------
    def add(self, pod: pod_pb2.Pod, event: str = "PodAdd") -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if key in self._where:
            self.update(pod)
            return
        qpi = QueuedPodInfo(PodInfo.of(pod), self.clock(), less=self.less)
        self._push_active(qpi, event)

    def update(self, pod: pod_pb2.Pod) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        qpi = self._where.get(key)
        if qpi is None:
            self.add(pod, "PodUpdate")
            return
        old = qpi.info.pod
        if old.metadata.resource_version == pod.metadata.resource_version:
            return
        scheduling_relevant = old.spec != pod.spec or old.metadata.labels != pod.metadata.labels
        qpi.info = PodInfo.of(pod)
        if qpi.where == UNSCHEDULABLE and scheduling_relevant:
            # The pod itself changed (e.g. a toleration added): it may fit now.
            del self._unschedulable[key]
            del self._where[key]
            self._requeue(qpi, "PodUpdate")
        elif qpi.where in (ACTIVE, BACKOFF):
            heap = self._active if qpi.where == ACTIVE else self._backoff
            heapq.heapify(heap)

    def delete(self, pod: pod_pb2.Pod) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        qpi = self._where.pop(key, None)
        if qpi is None:
            return
        if qpi.where == UNSCHEDULABLE:
            del self._unschedulable[key]
        else:
            heap = self._active if qpi.where == ACTIVE else self._backoff
            heap.remove(qpi)
            heapq.heapify(heap)
        qpi.where = ""
        self._gauges()

    def __contains__(self, key: object) -> bool:
        return key in self._where

    # -- pop -------------------------------------------------------------------------------------------
    async def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule; None once closed."""
        while not self._active:
            if self._closed:
                return None
            self._nonempty.clear()
            await self._nonempty.wait()
        qpi = heapq.heappop(self._active)
        del self._where[qpi.key]
        qpi.where = ""
        qpi.attempts += 1
        if qpi.initial_attempt is None:
            qpi.initial_attempt = self.clock()
        self.scheduling_cycle += 1
        self._gauges()
        return qpi

    def close(self) -> None:
        self._closed = True
        self._nonempty.set()

    # -- after a failed attempt ------------------------------------------------------------------------
    def add_unschedulable(self, qpi: QueuedPodInfo, cycle: int) -> None:
        """Park a pod whose attempt failed. An event that arrived while it was being scheduled may be
        the one it needs, so then it goes to backoffQ instead (kube-scheduler's moveRequestCycle)."""
        key = qpi.key
        if key in self._where:
            return
        qpi.timestamp = self.clock()
        qpi.backoff_expiry = qpi.timestamp + self.backoff_duration(qpi)
        if not qpi.unschedulable_plugins or self._move_request_cycle >= cycle:
            qpi.where = BACKOFF
            heapq.heappush(self._backoff, qpi)
            metrics.QUEUE_INCOMING.labels(BACKOFF, "ScheduleAttemptFailure").inc()
        else:
            qpi.where = UNSCHEDULABLE
            qpi.parked_at = qpi.timestamp
            self._unschedulable[key] = qpi
            metrics.QUEUE_INCOMING.labels(UNSCHEDULABLE, "ScheduleAttemptFailure").inc()
        self._where[key] = qpi
        self._gauges()

    @staticmethod
    def backoff_duration(qpi: QueuedPodInfo) -> float:
        return float(min(MAX_BACKOFF, INITIAL_BACKOFF * 2.0 ** max(0, qpi.attempts - 1)))

    # -- cluster events --------------------------------------------------------------------------------
    def on_event(self, event: ClusterEvent, old: Any = None, new: Any = None) -> int:
        """Move the parked pods this event may help; returns how many moved."""
        self._move_request_cycle = self.scheduling_cycle
        moved = 0
        for key, qpi in list(self._unschedulable.items()):
            if self._helps(qpi, event, old, new):
                del self._unschedulable[key]
                del self._where[key]
                self._requeue(qpi, str(event))
                moved += 1
        if moved:
            self._gauges()
        return moved

    def _helps(self, qpi: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> bool:
        for plugin in qpi.unschedulable_plugins:
            for reg in self.events_by_plugin.get(plugin, ()):
                if not reg.event.covers(event):
                    continue
                if reg.hint is None:
                    return True
                try:
                    if reg.hint(qpi.info.pod, old, new):
                        return True
                except Exception:
                    return True  # a failing hint must not strand the pod
        return False

    def _requeue(self, qpi: QueuedPodInfo, event: str) -> None:
        if qpi.backoff_expiry > self.clock():
            qpi.where = BACKOFF
            heapq.heappush(self._backoff, qpi)
            self._where[qpi.key] = qpi
            metrics.QUEUE_INCOMING.labels(BACKOFF, event).inc()
        else:
            self._push_active(qpi, event)

    def _push_active(self, qpi: QueuedPodInfo, event: str) -> None:
        qpi.where = ACTIVE
        heapq.heappush(self._active, qpi)
        self._where[qpi.key] = qpi
        self._nonempty.set()
        metrics.QUEUE_INCOMING.labels(ACTIVE, event).inc()
        self._gauges()

    # -- periodic flushes ------------------------------------------------------------------------------
    def flush_backoff_completed(self) -> int:
        now = self.clock()
        moved = 0
        while self._backoff and self._backoff[0].backoff_expiry <= now:
            qpi = heapq.heappop(self._backoff)
            del self._where[qpi.key]
            self._push_active(qpi, "BackoffComplete")
            moved += 1
        return moved

    def flush_unschedulable_leftover(self) -> int:
        now = self.clock()
        stale = [q for q in self._unschedulable.values() if now - q.parked_at > UNSCHEDULABLE_TIMEOUT]
        for qpi in stale:
            del self._unschedulable[qpi.key]
            del self._where[qpi.key]
            self._requeue(qpi, "UnschedulableTimeout")
        return len(stale)

    async def run_flushes(self) -> None:
        ticks = 0
        while not self._closed:
            await asyncio.sleep(1.0)
            self.flush_backoff_completed()
            ticks += 1
            if ticks % 30 == 0:
                self.flush_unschedulable_leftover()

    # -- introspection ---------------------------------------------------------------------------------
    def pending(self) -> dict[str, int]:
        return {ACTIVE: len(self._active), BACKOFF: len(self._backoff), UNSCHEDULABLE: len(self._unschedulable)}

    def where(self, key: str) -> str:
        qpi = self._where.get(key)
        return qpi.where if qpi is not None else ""

    def _gauges(self) -> None:
        metrics.PENDING_PODS.labels(ACTIVE).set(len(self._active))
        metrics.PENDING_PODS.labels(BACKOFF).set(len(self._backoff))
        metrics.PENDING_PODS.labels(UNSCHEDULABLE).set(len(self._unschedulable))
