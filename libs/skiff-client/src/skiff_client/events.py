"""EventRecorder: Kubernetes Events about an object, aggregated as client-go's EventCorrelator does.

Recording must never slow down or break the caller, so ``record`` only decides (synchronously) and
schedules the write; failures are logged at debug level and dropped (Events are best-effort in
Kubernetes too). Two rules keep a hot loop from flooding etcd:

* **dedup** -- a repeat of the same (object, type, reason, message, source) bumps ``count`` and
  ``lastTimestamp`` on the Event already written (a merge patch), instead of creating another one.
  One pod failing to schedule 193 times is one Event with count 193.
* **aggregation** -- when an object gets ``AGGREGATE_MAX`` (10) *distinct* messages for the same
  reason within ``AGGREGATE_WINDOW`` (10 minutes), further ones are written as one Event whose message is
  ``"(combined from similar events): <latest message>"``, itself deduplicated by count.

Writes for one Event are chained (a patch waits for the create it patches), so order is kept without
a lock. The caches are bounded LRUs (client-go's 4096 entries). Names are ``<object>.<hex>``.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import event_pb2, references_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_client.api import ApiClient

log = get_logger(__name__)

CACHE_SIZE = 4096
AGGREGATE_MAX = 10
AGGREGATE_WINDOW = 600.0
COMBINED_PREFIX = "(combined from similar events): "


def now_timestamp() -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(datetime.now(UTC).replace(microsecond=0))
    return ts


def object_reference(obj: Any) -> references_pb2.ObjectReference:
    meta = obj.metadata
    return references_pb2.ObjectReference(
        api_version=obj.api_version,
        kind=obj.kind,
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        resource_version=meta.resource_version,
    )


@dataclass
class _Written:
    """What we know of an Event already written: enough to patch it."""

    name: str
    namespace: str
    count: int
    first_timestamp: timestamp_pb2.Timestamp


@dataclass
class _Similar:
    messages: OrderedDict[str, None] = field(default_factory=OrderedDict)
    last: float = 0.0


class _LRU(OrderedDict[tuple[str, ...], Any]):
    def touch(self, key: tuple[str, ...], value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > CACHE_SIZE:
            self.popitem(last=False)


class EventRecorder:
    def __init__(
        self, client: ApiClient, component: str, host: str = "", *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.component = component
        self.host = host
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._written = _LRU()  # dedup key -> _Written
        self._similar = _LRU()  # aggregate key -> _Similar
        self._chains: dict[tuple[str, ...], asyncio.Task[None]] = {}

    def record(self, obj: Any, type_: str, reason: str, message: str) -> None:
        """Schedule an Event (type_ "Normal" or "Warning"), aggregated as the module docstring says."""
        ref = object_reference(obj)
        agg_key = (self.component, self.host, ref.kind, ref.namespace, ref.name, ref.uid, type_, reason)
        message, key = self._aggregate(agg_key, message)
        ts = now_timestamp()
        prev: _Written | None = self._written.get(key)
        if prev is not None:
            prev.count += 1
            self._written.touch(key, prev)
            self._chain(key, self._patch(prev, prev.count, ts, message, self._event(ref, type_, reason, message)))
            return
        event = self._event(ref, type_, reason, message)
        event.first_timestamp.CopyFrom(ts)
        event.last_timestamp.CopyFrom(ts)
        written = _Written(event.metadata.name, event.metadata.namespace, 1, ts)
        self._written.touch(key, written)
        self._chain(key, self._create(event))

    def _aggregate(self, agg_key: tuple[str, ...], message: str) -> tuple[str, tuple[str, ...]]:
        """(message, dedup key): the combined message and the aggregate key once there are too many
        distinct messages for one object and reason."""
        now = self._clock()
        similar: _Similar | None = self._similar.get(agg_key)
        if similar is None or now - similar.last > AGGREGATE_WINDOW:
            similar = _Similar()
        similar.messages[message] = None
        similar.last = now
        self._similar.touch(agg_key, similar)
        if len(similar.messages) < AGGREGATE_MAX:
            return message, (*agg_key, message)
        similar.messages.popitem(last=False)  # never grow past the limit
        return COMBINED_PREFIX + message, agg_key

    def _event(self, ref: references_pb2.ObjectReference, type_: str, reason: str, message: str) -> event_pb2.Event:
        return event_pb2.Event(
            api_version="v1",
            kind="Event",
            metadata=meta_pb2.ObjectMeta(
                name=f"{ref.name}.{secrets.token_hex(8)}", namespace=ref.namespace or "default"
            ),
            involved_object=ref,
            reason=reason,
            message=message,
            type=type_,
            count=1,
            source=event_pb2.EventSource(component=self.component, host=self.host),
            reporting_component=self.component,
            reporting_instance=self.host,
        )

    def _chain(self, key: tuple[str, ...], coro: Any) -> None:
        prev = self._chains.get(key)

        async def run() -> None:
            if prev is not None:
                await asyncio.gather(prev, return_exceptions=True)
            await coro

        task = asyncio.get_running_loop().create_task(run(), name="event-write")
        self._chains[key] = task
        self._tasks.add(task)

        def finished(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._chains.get(key) is t:
                del self._chains[key]

        task.add_done_callback(finished)

    async def _create(self, event: event_pb2.Event) -> None:
        try:
            await self.client.create(event)
        except Exception as exc:
            log.debug("event.dropped", reason=event.reason, error=str(exc))

    async def _patch(
        self,
        written: _Written,
        count: int,
        ts: timestamp_pb2.Timestamp,
        message: str,
        fallback: event_pb2.Event,
    ) -> None:
        patch = {"count": count, "lastTimestamp": ts.ToJsonString(), "message": message}
        try:
            await self.client.patch(event_pb2.Event, written.name, written.namespace, patch)
            return
        except errors.NotFound:
            pass  # expired or deleted: write it again with the count so far (client-go does the same)
        except Exception as exc:
            log.debug("event.dropped", reason=fallback.reason, error=str(exc))
            return
        fallback.metadata.name = written.name
        fallback.count = count
        fallback.first_timestamp.CopyFrom(written.first_timestamp)
        fallback.last_timestamp.CopyFrom(ts)
        await self._create(fallback)

    async def flush(self) -> None:
        """Wait for events in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
