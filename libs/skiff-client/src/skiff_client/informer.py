"""Informer: a list+watch cache of one kind, with event handlers -- client-go's SharedIndexInformer.

Life cycle of ``run``::

    list_all (rv=R) --> replace store, fire add/update/delete diffs --> synced
        ^                                                                |
        |  Expired (rv compacted)                                        v
        +---------------------------------------------------- watch from R, apply events, R = event rv
                                                     UNAVAILABLE / stream end: backoff, watch again from R

Relisting diffs the new list against the store, so handlers see deletes that happened while the watch
was down. Handlers run synchronously on the informer's task and must only enqueue keys (they get the
cached objects, which must not be mutated). Watches ask for bookmarks so R stays fresh on quiet kinds.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message
from skiff_common import errors
from skiff_common.observability import get_logger, health

from skiff_client.api import ApiClient, resource_of
from skiff_client.store import IndexFunc, Store, object_key

M = TypeVar("M", bound=Message)
log = get_logger(__name__)

# Informers running in this process: the "informers-synced" readiness check (served on /readyz by every
# component, as kube-controller-manager's) passes once each has completed its first list.
_RUNNING: set[Informer[Any]] = set()
health.checks.add("informers-synced", lambda: all(inf.has_synced() for inf in list(_RUNNING)), readiness_only=True)

# Watches are closed and re-opened now and then (server-side timeout) so a silently dead TCP
# connection cannot freeze the cache forever.
WATCH_TIMEOUT_SECONDS = 300


@dataclass
class _Handler:
    on_add: Callable[[Any], None] | None
    on_update: Callable[[Any, Any], None] | None
    on_delete: Callable[[Any], None] | None


class Informer(Generic[M]):
    def __init__(
        self,
        client: ApiClient,
        cls: type[M],
        namespace: str = "",
        *,
        label_selector: str = "",
        field_selector: str = "",
    ) -> None:
        self.client = client
        self.cls = cls
        self.resource = resource_of(cls)
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.store: Store[M] = Store()
        self._handlers: list[_Handler] = []
        self._synced = asyncio.Event()
        self._rv = ""
        self.list_count = 0  # full lists done (1 + relists); exposed for tests and debugging

    def add_handler(
        self,
        on_add: Callable[[M], None] | None = None,
        on_update: Callable[[M, M], None] | None = None,
        on_delete: Callable[[M], None] | None = None,
    ) -> None:
        """Register handlers; objects already cached are replayed as adds (late registration)."""
        handler = _Handler(on_add, on_update, on_delete)
        self._handlers.append(handler)
        if on_add is not None:
            for obj in self.store.list():
                on_add(obj)

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_synced(self) -> None:
        await self._synced.wait()

    @property
    def resource_version(self) -> str:
        return self._rv

    async def run(self) -> None:
        """List and watch until cancelled."""
        _RUNNING.add(self)
        try:
            await self._run()
        finally:
            _RUNNING.discard(self)

    async def _run(self) -> None:
        backoff = 0.2
        need_list = True
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                backoff = 0.2  # a clean end (timeout): watch again at once
            except asyncio.CancelledError:
                raise
            except errors.Expired:
                log.info("informer.relist", resource=self.resource, rv=self._rv)
                need_list = True
            except Exception as exc:
                # UNAVAILABLE and friends are transient: back off and watch again from the last rv.
                # TooManyRequests means we fell behind and the server closed us: relist, so nothing
                # missed stays missed. Anything else is logged loudly but must not kill the cache.
                if isinstance(exc, errors.TooManyRequests):
                    need_list = True
                if isinstance(exc, errors.SkiffError):
                    log.warning("informer.retry", resource=self.resource, error=str(exc), delay=backoff)
                else:
                    log.exception("informer.error", resource=self.resource, delay=backoff)
                await asyncio.sleep(backoff * (1 + random.random() / 2))
                backoff = min(backoff * 2, 30.0)

    async def _list(self) -> None:
        page = await self.client.list_all(
            self.cls, self.namespace, label_selector=self.label_selector, field_selector=self.field_selector
        )
        self.list_count += 1
        old = {k: self.store.get(k) for k in self.store.keys()}
        self.store.replace(page.items)
        self._rv = page.resource_version
        for obj in page.items:
            prev = old.pop(object_key(obj), None)
            if prev is None:
                self._fire_add(obj)
            else:
                self._fire_update(prev, obj)
        for gone in old.values():
            if gone is not None:
                self._fire_delete(gone)
        self._synced.set()

    async def _watch(self) -> None:
        stream = self.client.watch(
            self.cls,
            self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            resource_version=self._rv,
            allow_bookmarks=True,
            timeout_seconds=WATCH_TIMEOUT_SECONDS,
        )
        async for ev in stream:
            obj: Any = ev.object
            rv = obj.metadata.resource_version
            if ev.type == "BOOKMARK":
                self._rv = rv or self._rv
                continue
            if ev.type in ("ADDED", "MODIFIED"):
                prev = self.store.put(obj)
                if prev is None:
                    self._fire_add(obj)
                else:
                    self._fire_update(prev, obj)
            elif ev.type == "DELETED":
                prev = self.store.remove(object_key(obj))
                self._fire_delete(obj)
            if rv:
                self._rv = rv

    # Handler exceptions are bugs in the handler; log and keep the cache consistent.
    def _fire_add(self, obj: M) -> None:
        for h in self._handlers:
            if h.on_add is not None:
                self._safe(h.on_add, obj)

    def _fire_update(self, old: M, new: M) -> None:
        for h in self._handlers:
            if h.on_update is not None:
                self._safe(h.on_update, old, new)

    def _fire_delete(self, obj: M) -> None:
        for h in self._handlers:
            if h.on_delete is not None:
                self._safe(h.on_delete, obj)

    def _safe(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("informer.handler_failed", resource=self.resource)


class InformerFactory:
    """One shared informer per (kind, namespace, selectors); started together, synced together."""

    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self._informers: dict[tuple[type[Message], str, str, str], Informer[Any]] = {}
        self._tasks: dict[tuple[type[Message], str, str, str], asyncio.Task[None]] = {}

    def informer(
        self, cls: type[M], namespace: str = "", *, label_selector: str = "", field_selector: str = ""
    ) -> Informer[M]:
        key = (cls, namespace, label_selector, field_selector)
        if key not in self._informers:
            self._informers[key] = Informer(
                self.client, cls, namespace, label_selector=label_selector, field_selector=field_selector
            )
        return self._informers[key]

    def start(self) -> None:
        """Start every informer not yet running (safe to call again after adding informers)."""
        for key, inf in self._informers.items():
            if key not in self._tasks:
                self._tasks[key] = asyncio.create_task(inf.run(), name=f"informer-{inf.resource}")

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.wait_synced() for inf in self._informers.values()))

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
