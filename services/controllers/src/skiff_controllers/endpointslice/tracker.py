"""Kubernetes' EndpointSliceTracker in small: remember what we wrote until the informer has seen it.

After a controller creates, updates or deletes a slice, its cache lags the apiserver for a moment; a
reconcile in that moment would see the old slices and, for instance, create a second slice for the same
endpoints. So each write is recorded with its resource version (0 for a delete) and a key is reconciled
only once the cache holds at least that version of every slice written for it (and none deleted).
"""

from __future__ import annotations

from typing import Any


class WriteTracker:
    def __init__(self) -> None:
        self._written: dict[str, dict[str, int]] = {}  # key -> {slice name: rv we wrote, 0: deleted}

    def wrote(self, key: str, obj: Any) -> None:
        self._written.setdefault(key, {})[obj.metadata.name] = int(obj.metadata.resource_version)

    def deleted(self, key: str, name: str) -> None:
        self._written.setdefault(key, {})[name] = 0

    def cache_is_fresh(self, key: str, store: Any, namespace: str) -> bool:
        for name, rv in self._written.get(key, {}).items():
            cached = store.get(f"{namespace}/{name}")
            if rv == 0 and cached is not None:
                return False
            if rv and (cached is None or int(cached.metadata.resource_version or 0) < rv):
                return False
        self._written.pop(key, None)
        return True
