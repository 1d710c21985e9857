"""Watch events and watchers: what the watch cache hands to each client.

A Watcher is one client's filtered view with a bounded queue; `offer` never blocks (the cache must not
wait for anyone) and a full queue fails the watcher with TooManyRequests. A WatchEvent carries its
serialized form and its selectable field values, both computed at most once for all watchers.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver import metrics
from skiff_apiserver.machinery import fields

if TYPE_CHECKING:
    from skiff_apiserver.machinery import KindInfo


class Source(Protocol):
    """What a Watcher needs from its cache."""

    info: KindInfo

    def unregister(self, w: Watcher) -> None: ...


Filter = Callable[..., bool]  # (obj, field_values=None) -> bool


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    obj: Message
    prev: Message | None
    revision: int
    # Serialized WatchResponse per delivered type, filled by the first watcher that sends it: with a
    # thousand watchers an event is encoded once, not a thousand times.
    encoded: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _fields: dict[int, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def fields_of(self, obj: Message) -> dict[str, str]:
        """Selectable field values of obj or prev, computed once per event for every watcher."""
        key = 0 if obj is self.obj else 1
        values = self._fields.get(key)
        if values is None:
            values = self._fields[key] = fields.object_fields(obj)
        return values


Item = tuple[str, Message, "dict[str, bytes] | None"]  # (type, object, shared encodings)
BOOKMARK = "BOOKMARK"


class Watcher:
    """One client's view: filtered events in a bounded queue."""

    def __init__(self, cache: Source, match: Filter, after: int, queue_size: int, *, bookmarks: bool = False) -> None:
        self.cache = cache
        self.match = match
        self.bookmarks = bookmarks  # the cache's ticker enqueues a BOOKMARK when this watcher is idle
        self.last_active = time.monotonic()
        self.after = after  # deliver only events with revision > after
        self.queue: asyncio.Queue[Item | None] = asyncio.Queue(queue_size)  # None: look at self.error
        self.initial: deque[Item] = deque()
        self.error: errors.SkiffError | None = None

    def offer(self, ev: WatchEvent) -> None:
        if self.error is not None or ev.revision <= self.after:
            return
        out = self._translate(ev)
        if out is None:
            return
        try:
            self.queue.put_nowait((out[0], out[1], ev.encoded))
        except asyncio.QueueFull:
            metrics.SLOW_WATCHERS.labels(self.cache.info.resource).inc()
            self.fail(
                errors.TooManyRequests(
                    f"watch of {self.cache.info.resource} closed: the client fell more than "
                    f"{self.queue.maxsize} events behind; restart the watch from the last "
                    "resourceVersion seen"
                )
            )

    def _translate(self, ev: WatchEvent) -> tuple[str, Message] | None:
        if ev.type == "DELETED":
            return ("DELETED", ev.obj) if self.match(ev.obj, ev.fields_of(ev.obj)) else None
        now = self.match(ev.obj, ev.fields_of(ev.obj))
        before = ev.prev is not None and self.match(ev.prev, ev.fields_of(ev.prev))
        if ev.type == "ADDED" or ev.prev is None:
            return ("ADDED", ev.obj) if now else None
        if now and before:
            return ("MODIFIED", ev.obj)
        if now:
            return ("ADDED", ev.obj)
        if before:
            return ("DELETED", ev.obj)
        return None

    def fail(self, err: errors.SkiffError) -> None:
        self.error = err
        self.cache.unregister(self)
        try:
            self.queue.put_nowait(None)  # wakes a reader blocked on an empty queue
        except asyncio.QueueFull:
            pass  # the reader is not blocked: it sees the error once it has drained the queue

    async def next(self) -> Item:
        """The next item (an event, or a BOOKMARK from the cache's ticker); raises the watcher's error
        once its queue is drained. Cheap on purpose: it runs once per event per watcher, so no task and
        no timer per call (bookmarks and the stream's timeout are handled elsewhere)."""
        if self.initial:
            item: Item | None = self.initial.popleft()
        elif self.queue.empty():
            if self.error is not None:
                raise self.error
            item = await self.queue.get()
        else:
            item = self.queue.get_nowait()
        if item is None:
            assert self.error is not None
            raise self.error
        self.last_active = time.monotonic()
        return item

    def idle_bookmark(self, now: float, interval: float, mark: Message) -> None:
        """Called by the cache's ticker: enqueue a BOOKMARK if nothing was delivered for `interval`."""
        if self.bookmarks and self.error is None and not self.initial and self.queue.empty():
            if now - self.last_active >= interval:
                self.last_active = now
                self.queue.put_nowait((BOOKMARK, mark, None))

    def close(self) -> None:
        self.cache.unregister(self)
