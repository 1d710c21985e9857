"""Refreshing a running pod's secret, configMap, downwardAPI and projected volumes in place.

Kubernetes' kubelet re-runs each volume's setup on the pod's periodic sync (``--sync-frequency``, 1 min)
and on pod updates, reading secrets and configMaps through its object cache; the atomic writer makes
the new files appear at once, and only when something changed. Skiff does the same from its pod
worker: every sync of a running pod calls ``refresh``, which re-reads the objects at most once per
``period`` per pod (the housekeeping resync enqueues every pod each ``--sync-frequency``, 10 s here)
and rewrites only the volumes whose payload changed. Pods share their reads for a period (Kubernetes'
TTL cache strategy): a hundred pods mounting ``kube-root-ca.crt`` cost one GET per period, not a
hundred; a container start still reads afresh. A pod label change (downwardAPI) or a token near
its expiry (projected) goes the same way.

Not refreshed, as in Kubernetes:

* ``subPath`` mounts: the runtime bind-mounted the file of the version that existed when the
  container started; later versions live in new dirs the mount does not see.
* ``immutable: true`` objects: read once per pod (the lookup says which objects were immutable when it
  read them), never again; the pod's cache goes with the pod (``forget``).

A failed refresh (the apiserver unreachable, an object deleted) keeps the old files and logs; the next
sync tries again. Environment variables are never refreshed (only a container restart re-reads them).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from skiff.api.core.v1 import pod_pb2
from skiff_common.observability import get_logger

from skiff_kubelet import volume_sources, volumes
from skiff_kubelet.env import Lookup
from skiff_kubelet.projected import TokenManager

log = get_logger(__name__)

DEFAULT_PERIOD = 10.0


@runtime_checkable
class ReportsImmutable(Protocol):
    """A lookup that knows whether the object it last read was ``immutable: true``."""

    def is_immutable(self, kind: str, namespace: str, name: str) -> bool: ...


T = TypeVar("T")
_Key = tuple[str, str]  # namespace, name


@dataclass
class _Objects:
    """Secrets and ConfigMaps as read: one pod's immutable ones, or every pod's recent reads (with when)."""

    secrets: dict[_Key, Any] = field(default_factory=dict)
    config_maps: dict[_Key, Any] = field(default_factory=dict)


class _PodLookup:
    """The pod's view for one refresh: its immutable objects from its own cache, an object another pod's
    refresh read less than ``ttl`` ago from the shared one, the rest from the API."""

    def __init__(self, base: Lookup, pod: _Objects, recent: _Objects, now: float, ttl: float) -> None:
        self.base, self.pod, self.recent, self.now, self.ttl = base, pod, recent, now, ttl

    async def _read(
        self,
        kind: str,
        key: _Key,
        fetch: Callable[[str, str], Awaitable[T]],
        own: dict[_Key, Any],
        shared: dict[_Key, Any],
    ) -> T:
        if key in own:
            return cast(T, own[key])
        hit = shared.get(key)
        if hit is None or self.now - hit[0] >= self.ttl:
            hit = shared[key] = (self.now, await fetch(*key))
        if isinstance(self.base, ReportsImmutable) and self.base.is_immutable(kind, *key):
            own[key] = hit[1]
        return cast(T, hit[1])

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        key = (namespace, name)
        return await self._read("Secret", key, self.base.secret, self.pod.secrets, self.recent.secrets)

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        key = (namespace, name)
        return await self._read("ConfigMap", key, self.base.config_map, self.pod.config_maps, self.recent.config_maps)

    async def service_account_token(
        self, namespace: str, service_account: str, pod_name: str, pod_uid: str, audience: str, seconds: int
    ) -> tuple[str, float]:
        return await self.base.service_account_token(namespace, service_account, pod_name, pod_uid, audience, seconds)


class VolumeRefresher:
    def __init__(
        self,
        root_dir: str,
        lookup: Lookup,
        tokens: TokenManager,
        allocatable: Callable[[], Mapping[str, str]],
        *,
        period: float = DEFAULT_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root_dir = root_dir
        self.lookup = lookup
        self.tokens = tokens
        self.allocatable = allocatable
        self.period = period
        self.clock = clock
        self._last: dict[str, float] = {}  # pod uid -> when its volumes were last refreshed
        self._immutable: dict[str, _Objects] = {}  # pod uid -> its immutable objects
        self._recent = _Objects()  # what any pod's refresh read in the last period, shared by all pods

    async def refresh(self, pod: pod_pb2.Pod) -> list[str]:
        """Rewrite the pod's volumes that changed (those already set up); the names of those rewritten."""
        uid, now = pod.metadata.uid, self.clock()
        last = self._last.get(uid)
        if last is not None and now - last < self.period:
            return []
        self._last[uid] = now
        base = volumes.pod_dir(self.root_dir, uid) / "volumes"
        lookup = _PodLookup(self.lookup, self._immutable.setdefault(uid, _Objects()), self._recent, now, self.period)
        changed: list[str] = []
        for vol in pod.spec.volumes:
            kind = volume_sources.source_kind(vol)
            dest = base / volume_sources.PLUGIN_DIRS[kind] / vol.name if kind else None
            if dest is None or not dest.is_dir():
                continue  # not a written volume, or no container has started yet
            perms = volumes.fs_group_perms(pod, vol)
            try:
                if await volume_sources.write(pod, vol, dest, lookup, self.tokens, self.allocatable(), perms):
                    changed.append(vol.name)
            except Exception as exc:  # keep the old files; the next sync tries again
                log.warning("volume.refresh_failed", pod=pod.metadata.name, volume=vol.name, error=str(exc))
        if changed:
            log.info("volume.refreshed", pod=f"{pod.metadata.namespace}/{pod.metadata.name}", volumes=changed)
        return changed

    def forget(self, uid: str) -> None:
        """Drop what is kept for a pod that is gone."""
        self._last.pop(uid, None)
        self._immutable.pop(uid, None)

    def prune(self, known: set[str]) -> None:
        """Forget every pod not in ``known`` (force-deleted pods never pass through ``forget``)."""
        for uid in set(self._last) - known:
            self.forget(uid)
        now = self.clock()
        for cache in (self._recent.secrets, self._recent.config_maps):
            for key in [k for k, (at, _) in cache.items() if now - at >= self.period]:
                del cache[key]
