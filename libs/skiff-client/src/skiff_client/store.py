"""Store: the informer's indexed in-memory cache, and ``object_key``.

Keys are ``namespace/name`` (or ``name`` for cluster-scoped kinds), the same strings the work queues
carry. Indexers map an object to zero or more index values (e.g. ``spec.nodeName``) so controllers can
ask "all pods on node X" without scanning. Objects in the store are shared: callers must copy before
mutating (``obj2 = type(obj)(); obj2.CopyFrom(obj)`` or ``copy.deepcopy``).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

M = TypeVar("M", bound=Message)
IndexFunc = Callable[[Any], list[str]]

NAMESPACE_INDEX = "namespace"


def object_key(obj: Any) -> str:
    """``"ns/name"`` for namespaced objects, ``"name"`` otherwise."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


def split_key(key: str) -> tuple[str, str]:
    """Inverse of ``object_key``: (namespace, name); namespace "" for cluster-scoped keys."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else ("", ns)


def namespace_index(obj: Any) -> list[str]:
    return [obj.metadata.namespace]


class Store(Generic[M]):
    def __init__(self) -> None:
        self._items: dict[str, M] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        if name in self._indexers:
            raise ValueError(f"indexer {name!r} already exists")
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def has_indexer(self, name: str) -> bool:
        return name in self._indexers

    def get(self, key: str) -> M | None:
        return self._items.get(key)

    def list(self) -> list[M]:
        return list(self._items.values())

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def by_index(self, name: str, value: str) -> builtins.list[M]:
        if name not in self._indices:
            raise KeyError(f"no indexer named {name!r}")
        return [self._items[k] for k in sorted(self._indices[name].get(value, ()))]

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    # -- mutation (the informer's only) -----------------------------------------------------------
    def put(self, obj: M) -> M | None:
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def remove(self, key: str) -> M | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, objs: Iterable[M]) -> None:
        self._items = {}
        self._indices = {name: {} for name in self._indexers}
        for obj in objs:
            self.put(obj)

    def _index(self, key: str, obj: M) -> None:
        for name, fn in self._indexers.items():
            for value in fn(obj):
                self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: M) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
