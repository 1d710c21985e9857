"""The watch cache: one per resource, fed by ONE etcd watch, fanned out to any number of watchers.

    etcd --watch(prefix, from rev+1)--> WatchCache --(filter, bounded queue)--> Watcher 1..n --> gRPC stream
                                         | objects: key -> latest object   (gets/lists with rv "0")
                                         | events:  ring of the last N events (watch resumption)

* `revision` is the etcd revision the cache reflects. It only advances to the revision of events it has
  applied (or of a progress notification), never to a response header that may run ahead of the events.
* `oldest` is the revision from which history is complete: a watch from rv >= oldest is replayed from the
  ring; an older one gets Expired (OUT_OF_RANGE) and must relist, exactly like Kubernetes' 410 Gone.
* When the etcd stream breaks (member died, connection dropped) the cache reopens it from revision+1 on
  the same failover channel, so no event is lost or repeated. If etcd compacted that revision meanwhile,
  the cache relists and emits the difference as synthetic events, and resets `oldest`.
* Each watcher has a bounded queue. The cache never waits for a watcher: a full queue terminates that
  watcher with TooManyRequests (RESOURCE_EXHAUSTED), so one slow client cannot hold others back or grow
  memory without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver import metrics
from skiff_apiserver.logs import log
from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient, prefix_end
from skiff_apiserver.storage.watcher import Filter, Watcher, WatchEvent


class WatchCache:
    def __init__(
        self,
        client: EtcdClient,
        info: KindInfo,
        prefix: str,
        capacity: int,
        *,
        bookmark_interval: float = 60.0,
    ) -> None:
        self.bookmark_interval = bookmark_interval
        self.client = client
        self.info = info
        self.prefix = codec.resource_prefix(prefix, info)
        self.capacity = capacity
        self.objects: dict[bytes, Message] = {}
        # Namespace -> its objects: a namespaced list or watch scans only its namespace (a thousand
        # watchers registering at once must not each walk every pod in the cluster).
        self.by_namespace: dict[str, dict[bytes, Message]] = {}
        self.events: deque[WatchEvent] = deque()
        self.revision = 0
        self.oldest = 0
        self.watchers: set[Watcher] = set()
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._relist(initial=True)
        self._task = asyncio.create_task(self._run(), name=f"watch-cache-{self.info.resource}")
        self._ticker = asyncio.create_task(self._bookmarks(), name=f"watch-bookmarks-{self.info.resource}")

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for w in list(self.watchers):
            w.fail(errors.Unavailable("the apiserver is shutting down"))

    # -- feeding -------------------------------------------------------------------------------------
    async def _relist(self, initial: bool = False) -> None:
        kvs, _, rev = await self.client.range(self.prefix, prefix_end(self.prefix))
        fresh = {kv.key: codec.decode(self.info, kv.value, kv.mod_revision) for kv in kvs}
        if not initial:
            # Emit the difference as events so watchers stay correct across a compaction gap.
            synthetic = []
            for key, obj in fresh.items():
                old = self.objects.get(key)
                if old is None:
                    synthetic.append(WatchEvent("ADDED", obj, None, int(obj.metadata.resource_version)))  # type: ignore[attr-defined]
                elif old.metadata.resource_version != obj.metadata.resource_version:  # type: ignore[attr-defined]
                    synthetic.append(WatchEvent("MODIFIED", obj, old, int(obj.metadata.resource_version)))  # type: ignore[attr-defined]
            for key, old in self.objects.items():
                if key not in fresh:
                    gone = type(old)()
                    gone.CopyFrom(old)
                    gone.metadata.resource_version = str(rev)  # type: ignore[attr-defined]
                    synthetic.append(WatchEvent("DELETED", gone, old, rev))
            synthetic.sort(key=lambda e: e.revision)
            self._replace(fresh)
            for ev in synthetic:
                self._dispatch(ev)
            self.events.clear()
        self._replace(fresh)
        self.revision = rev
        self.oldest = rev
        metrics.objects.get(self.info.resource).set(len(self.objects))
        self.ready.set()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                async for resp in self.client.watch(self.prefix, self.revision + 1):
                    backoff = 0.1
                    self._apply(resp)
            except asyncio.CancelledError:
                raise
            except errors.Expired:
                log.warning("watch_cache_expired_relisting", resource=self.info.resource, revision=self.revision)
                await self._retrying(self._relist)
            except Exception as exc:  # stream broke: resume from self.revision + 1
                log.warning(
                    "watch_cache_stream_broken",
                    resource=self.info.resource,
                    error=str(exc),
                    revision=self.revision,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _bookmarks(self) -> None:
        """One timer for all watchers of this resource: idle ones that asked for bookmarks get one."""
        mark = self.info.message()
        while True:
            await asyncio.sleep(max(self.bookmark_interval / 4, 0.05))
            now = time.monotonic()
            for w in list(self.watchers):
                w.idle_bookmark(now, self.bookmark_interval, mark)

    async def _retrying(self, fn: Callable[[], object]) -> None:
        delay = 0.1
        while True:
            try:
                await fn()  # type: ignore[misc]
                return
            except errors.SkiffError as exc:
                log.warning("watch_cache_relist_failed", resource=self.info.resource, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _apply(self, resp: object) -> None:
        events = resp.events  # type: ignore[attr-defined]
        if not events:
            if not resp.created:  # type: ignore[attr-defined]  # progress notification: safe to advance
                self.revision = max(self.revision, resp.header.revision)  # type: ignore[attr-defined]
            return
        for raw in events:
            kv = raw.kv
            if kv.mod_revision <= self.revision:
                continue  # already applied (defensive: a resumed stream never repeats)
            key = bytes(kv.key)
            prev = self.objects.get(key)
            if raw.type == 0:  # PUT
                obj = codec.decode(self.info, kv.value, kv.mod_revision)
                self._put(key, obj)
                ev = WatchEvent("ADDED" if prev is None else "MODIFIED", obj, prev, kv.mod_revision)
            else:
                self._pop(key)
                last = (
                    prev
                    if prev is not None
                    else (
                        codec.decode(self.info, raw.prev_kv.value, raw.prev_kv.mod_revision)
                        if raw.prev_kv.key
                        else None
                    )
                )
                if last is None:
                    continue
                gone = type(last)()
                gone.CopyFrom(last)
                gone.metadata.resource_version = str(kv.mod_revision)  # type: ignore[attr-defined]
                ev = WatchEvent("DELETED", gone, last, kv.mod_revision)
            metrics.watch_events.get(self.info.resource).inc()
            self._dispatch(ev)
            self.revision = kv.mod_revision
        metrics.objects.get(self.info.resource).set(len(self.objects))

    def _dispatch(self, ev: WatchEvent) -> None:
        self.events.append(ev)
        if len(self.events) > self.capacity:
            self.oldest = self.events.popleft().revision
        for w in list(self.watchers):
            w.offer(ev)

    # -- serving -------------------------------------------------------------------------------------
    def watch(
        self, match: Filter, resource_version: str, queue_size: int, namespace: str = "", *,
        bookmarks: bool = False,
    ) -> Watcher:  # fmt: skip
        """Register a watcher. rv "" or "0": current objects as ADDED first, then changes. Otherwise replay
        every change after rv from the ring (Expired if the ring no longer reaches back that far)."""
        if resource_version in ("", "0"):
            w = Watcher(self, match, self.revision, queue_size, bookmarks=bookmarks)
            for obj in self._scan(namespace):
                if match(obj):
                    w.initial.append(("ADDED", obj, None))
        else:
            try:
                rv = int(resource_version)
            except ValueError:
                raise errors.BadRequest(f"invalid resourceVersion {resource_version!r}: must be an integer") from None
            if rv < self.oldest:
                raise errors.Expired(
                    f"too old resource version: {rv} (the oldest this server can serve is {self.oldest})",
                    metadata={"oldest": str(self.oldest), "current": str(self.revision)},
                )
            w = Watcher(self, match, rv, queue_size, bookmarks=bookmarks)
            for ev in self.events:
                if ev.revision > rv:
                    out = w._translate(ev)
                    if out is not None:
                        w.initial.append((out[0], out[1], ev.encoded))
        self.watchers.add(w)
        metrics.watchers.get(self.info.resource).inc()
        return w

    def unregister(self, w: Watcher) -> None:
        if w in self.watchers:
            self.watchers.discard(w)
            metrics.watchers.get(self.info.resource).dec()

    def get(self, key: bytes) -> Message | None:
        return self.objects.get(key)

    def list_objects(self, namespace: str, match: Filter) -> list[Message]:
        return [obj for obj in self._scan(namespace) if match(obj)]

    # -- the index -------------------------------------------------------------------------------------
    def _scan(self, namespace: str) -> list[Message]:
        """Objects in key order, of one namespace ("" = all)."""
        source = self.objects if not namespace else self.by_namespace.get(namespace, {})
        return [source[k] for k in sorted(source)]

    def _put(self, key: bytes, obj: Message) -> None:
        self.objects[key] = obj
        self.by_namespace.setdefault(obj.metadata.namespace, {})[key] = obj  # type: ignore[attr-defined]

    def _pop(self, key: bytes) -> None:
        obj = self.objects.pop(key, None)
        if obj is not None:
            ns = self.by_namespace.get(obj.metadata.namespace)  # type: ignore[attr-defined]
            if ns is not None:
                ns.pop(key, None)
                if not ns:
                    del self.by_namespace[obj.metadata.namespace]  # type: ignore[attr-defined]

    def _replace(self, fresh: dict[bytes, Message]) -> None:
        self.objects = {}
        self.by_namespace = {}
        for key, obj in fresh.items():
            self._put(key, obj)
