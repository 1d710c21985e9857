"""Refreshing a running pod's secret, configMap, downwardAPI and projected volumes in place.

Kubernetes' kubelet re-runs each volume's setup on the pod's periodic sync (``--sync-frequency``, 1 min)
and on pod updates, reading secrets and configMaps through its object cache; the atomic writer makes
the new files appear at once, and only when something changed. Skiff does the same from its pod
worker: every sync of a running pod calls ``refresh``, which re-reads the objects at most once per
``period`` per pod (the housekeeping resync enqueues every pod each ``--sync-frequency``, 10 s here)
and rewrites only the volumes whose payload changed. A pod label change (downwardAPI) or a token near
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

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


@dataclass
class _Immutable:
    """One pod's immutable objects, as read once: (namespace, name) -> data."""

    secrets: dict[tuple[str, str], dict[str, bytes] | None] = field(default_factory=dict)
    config_maps: dict[tuple[str, str], dict[str, str] | None] = field(default_factory=dict)


class _PodLookup:
    """The pod's view for one refresh: immutable objects come from its cache, the rest from the API."""

    def __init__(self, base: Lookup, cache: _Immutable) -> None:
        self.base = base
        self.cache = cache

    def _immutable(self, kind: str, namespace: str, name: str) -> bool:
        return isinstance(self.base, ReportsImmutable) and self.base.is_immutable(kind, namespace, name)

    async def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        key = (namespace, name)
        if key not in self.cache.secrets:
            data = await self.base.secret(namespace, name)
            if not self._immutable("Secret", namespace, name):
                return data
            self.cache.secrets[key] = data
        return self.cache.secrets[key]

    async def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        key = (namespace, name)
        if key not in self.cache.config_maps:
            data = await self.base.config_map(namespace, name)
            if not self._immutable("ConfigMap", namespace, name):
                return data
            self.cache.config_maps[key] = data
        return self.cache.config_maps[key]

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
        self._immutable: dict[str, _Immutable] = {}  # pod uid -> its immutable objects

    async def refresh(self, pod: pod_pb2.Pod) -> list[str]:
        """Rewrite the pod's volumes that changed (those already set up); the names of those rewritten."""
        uid, now = pod.metadata.uid, self.clock()
        last = self._last.get(uid)
        if last is not None and now - last < self.period:
            return []
        self._last[uid] = now
        base = volumes.pod_dir(self.root_dir, uid) / "volumes"
        lookup = _PodLookup(self.lookup, self._immutable.setdefault(uid, _Immutable()))
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
