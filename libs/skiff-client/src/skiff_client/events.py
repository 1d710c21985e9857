"""EventRecorder: fire-and-forget Kubernetes Events about an object.

Recording must never slow down or break the caller's reconcile, so ``record`` only schedules a task;
failures are logged at debug level and dropped (Events are best-effort in Kubernetes too). Names are
``<object>.<random hex>`` like client-go's.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from google.protobuf import timestamp_pb2
from skiff.api.core.v1 import event_pb2, references_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common.observability import get_logger

from skiff_client.api import ApiClient

log = get_logger(__name__)


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


class EventRecorder:
    def __init__(self, client: ApiClient, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._tasks: set[asyncio.Task[None]] = set()

    def record(self, obj: Any, type_: str, reason: str, message: str) -> None:
        """Schedule creation of an Event (type_ "Normal" or "Warning")."""
        ts = now_timestamp()
        ref = object_reference(obj)
        event = event_pb2.Event(
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
            first_timestamp=ts,
            last_timestamp=ts,
            reporting_component=self.component,
            reporting_instance=self.host,
        )
        task = asyncio.get_running_loop().create_task(self._create(event), name=f"event-{reason}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _create(self, event: event_pb2.Event) -> None:
        try:
            await self.client.create(event)
        except Exception as exc:
            log.debug("event.dropped", reason=event.reason, error=str(exc))

    async def flush(self) -> None:
        """Wait for events in flight (tests, shutdown)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
