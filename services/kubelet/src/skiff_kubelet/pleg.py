"""PLEG: one relist feeds a per-pod runtime status cache and lifecycle events (Kubernetes' GenericPLEG).

The kubelet learns what the runtime runs in exactly one place. Every ``relist_period`` the relister
makes two CRI calls for the whole node (ListPodSandbox, ListContainers, filtered to what this kubelet
made) and compares each object's state with the previous relist. Only the pods in which something
changed are inspected further (PodSandboxStatus, ContainerStatus per container) and their entry in the
``PodCache`` replaced; idle pods cost nothing beyond the two shared list calls. The changes become
``PodLifecycleEvent``s (container started / died / removed / changed, sandbox changed) that wake the
pod's worker.

Freshness is by timestamp, as the kubelet's ``GetNewerThan``: the cache remembers when the last
completed relist *started*; a sync that wrote to the runtime notes when its last write returned, and
the next sync of that pod waits for a relist that started after it, so it never acts on a view that
predates its own writes. A sync after which nothing was written reads the cache at once: if the
runtime changes behind it, the relist sends an event.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient
from skiff_client.cri import call
from skiff_common.observability import get_logger, health

from skiff_kubelet import labels as L
from skiff_kubelet import metrics
from skiff_kubelet.runtime_state import PodRuntime, inspect_pod

log = get_logger(__name__)

PLEG_HEALTHY_WITHIN = 180.0
# Pods inspected at once after a relist (all of them after a kubelet restart).
INSPECT_CONCURRENCY = 8


class EventType(enum.Enum):
    CONTAINER_STARTED = "ContainerStarted"
    CONTAINER_DIED = "ContainerDied"
    CONTAINER_REMOVED = "ContainerRemoved"
    CONTAINER_CHANGED = "ContainerChanged"  # created, or a state the kubelet does not act on
    SANDBOX_CHANGED = "SandboxChanged"


@dataclass(frozen=True)
class Seen:
    """One sandbox or container as a relist saw it."""

    uid: str
    key: str  # namespace/name of the pod
    state: int
    sandbox: bool


@dataclass(frozen=True)
class PodLifecycleEvent:
    uid: str
    key: str
    type: EventType
    id: str  # of the container or sandbox


def compute_events(old: Mapping[str, Seen], new: Mapping[str, Seen]) -> list[PodLifecycleEvent]:
    """The events between two relists (pure). A container that vanished while running died first."""
    out: list[PodLifecycleEvent] = []
    for oid in sorted(old.keys() | new.keys()):
        before, after = old.get(oid), new.get(oid)
        if before is not None and after is not None and before.state == after.state:
            continue
        seen = after or before
        assert seen is not None

        def add(kind: EventType, s: Seen = seen, i: str = oid) -> None:
            out.append(PodLifecycleEvent(s.uid, s.key, kind, i))

        if seen.sandbox:
            add(EventType.SANDBOX_CHANGED)
        elif after is None:
            if before is not None and before.state != cri.CONTAINER_EXITED:
                add(EventType.CONTAINER_DIED)
            add(EventType.CONTAINER_REMOVED)
        elif after.state == cri.CONTAINER_RUNNING:
            add(EventType.CONTAINER_STARTED)
        elif after.state == cri.CONTAINER_EXITED:
            add(EventType.CONTAINER_DIED)
        else:
            add(EventType.CONTAINER_CHANGED)
    return out


class PodCache:
    """Pod uid -> the runtime status of its sandboxes and containers, with the time of its view."""

    def __init__(self) -> None:
        self._pods: dict[str, PodRuntime] = {}
        self._modified: dict[str, float] = {}
        self._timestamp = 0.0  # start of the last completed relist (monotonic); 0: none yet
        self._stale: set[str] = set()  # pods whose last inspection failed: only a new entry is fresh
        self._changed = asyncio.Condition()

    def get(self, uid: str) -> PodRuntime:
        return self._pods.get(uid) or PodRuntime()

    def uids(self) -> set[str]:
        return set(self._pods)

    def items(self) -> list[tuple[str, PodRuntime]]:
        return list(self._pods.items())

    def set(self, uid: str, rt: PodRuntime, timestamp: float) -> None:
        self._pods[uid] = rt
        self._modified[uid] = timestamp
        self._stale.discard(uid)

    def mark_stale(self, uid: str) -> None:
        """The relist saw the pod change but could not inspect it: a completed relist does not make
        the old entry fresh (Kubernetes' cache keeps the inspection error for the same reason)."""
        self._stale.add(uid)

    def delete(self, uid: str) -> None:
        self._pods.pop(uid, None)
        self._modified.pop(uid, None)
        self._stale.discard(uid)

    async def update_time(self, timestamp: float) -> None:
        """A relist that started at ``timestamp`` has completed: every entry is at least that fresh."""
        async with self._changed:
            self._timestamp = timestamp
            self._changed.notify_all()

    def _fresh(self, uid: str, min_time: float) -> bool:
        if self._modified.get(uid, 0.0) > min_time:
            return True
        return self._timestamp > min_time and uid not in self._stale

    async def get_newer_than(self, uid: str, min_time: float) -> PodRuntime:
        """The pod's status from a relist that started after ``min_time`` (and after none: the first)."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._timestamp > 0 and self._fresh(uid, min_time))
        return self.get(uid)


class Relister:
    def __init__(self, cri_client: CriClient, cache: PodCache, on_event: Callable[[PodLifecycleEvent], None]) -> None:
        self.cri = cri_client
        self.cache = cache
        self.on_event = on_event
        self._last: dict[str, Seen] = {}
        self._reinspect: set[str] = set()  # pods whose inspection failed: try again next relist
        self._last_relist = time.monotonic()
        # The kubelet's "PLEG is not healthy" rule: no completed relist for 3 minutes means the runtime
        # is stuck, and /healthz says so (the kubelet's own liveness, and its Ready condition's reason).
        health.checks.add("pleg", lambda: time.monotonic() - self._last_relist < PLEG_HEALTHY_WITHIN)

    async def relist_once(self) -> None:
        started = time.monotonic()
        managed = {L.MANAGED_BY: L.MANAGED_BY_VALUE}
        sbs = await call(
            self.cri.runtime.ListPodSandbox(
                cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector=managed))
            )
        )
        cs = await call(
            self.cri.runtime.ListContainers(
                cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector=managed))
            )
        )
        seen: dict[str, Seen] = {}
        sandboxes: dict[str, list[cri.PodSandbox]] = {}
        containers: dict[str, list[cri.Container]] = {}
        for sb in sbs.items:
            uid = sb.labels.get(L.POD_UID, "")
            seen[sb.id] = Seen(uid, _key(sb.labels), int(sb.state), True)
            sandboxes.setdefault(uid, []).append(sb)
        for c in cs.containers:
            uid = c.labels.get(L.POD_UID, "")
            seen[c.id] = Seen(uid, _key(c.labels), int(c.state), False)
            containers.setdefault(uid, []).append(c)
        events = compute_events(self._last, seen)
        present = (sandboxes.keys() | containers.keys()) - {""}
        dirty = ({e.uid for e in events} | self._reinspect | (present - self.cache.uids())) & present
        self._reinspect = set()
        limit = asyncio.Semaphore(INSPECT_CONCURRENCY)

        async def inspect(uid: str) -> None:
            async with limit:
                try:
                    rt = await inspect_pod(self.cri, sandboxes.get(uid, []), containers.get(uid, []))
                except Exception as exc:
                    log.warning("pleg.inspect_failed", uid=uid, error=str(exc))
                    self._reinspect.add(uid)  # keep the old entry, look again next time
                    self.cache.mark_stale(uid)
                    return
            self.cache.set(uid, rt, started)

        await asyncio.gather(*(inspect(uid) for uid in dirty))
        for uid in self.cache.uids() - present:
            self.cache.delete(uid)
        self._last = seen
        await self.cache.update_time(started)
        metrics.RUNNING_PODS.set(sum(1 for sb in sbs.items if sb.state == cri.SANDBOX_READY))
        for state, name in (
            (cri.CONTAINER_RUNNING, "running"),
            (cri.CONTAINER_EXITED, "exited"),
            (cri.CONTAINER_CREATED, "created"),
        ):
            metrics.RUNNING_CONTAINERS.labels(name).set(sum(1 for c in cs.containers if c.state == state))
        metrics.PLEG_RELIST_SECONDS.observe(time.monotonic() - started)
        metrics.PLEG_LAST_SEEN.set_to_current_time()
        self._last_relist = time.monotonic()
        for event in events:
            metrics.PLEG_EVENTS.labels(event.type.value).inc()
            if event.key != "/":
                self.on_event(event)


def _key(labels: Mapping[str, str]) -> str:
    return f"{labels.get(L.POD_NAMESPACE, '')}/{labels.get(L.POD_NAME, '')}"
