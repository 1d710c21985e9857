"""Events: involvedObject required and in the event's namespace; count and timestamps defaulted.

Events expire like in Kubernetes (--event-ttl): each is attached to a shared etcd lease (storage/leases.py),
and they are still accepted in a namespace being emptied, so controllers can report what they do there."""

from __future__ import annotations

from typing import Any

from skiff_common.errors import FieldError

from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.strategy import StorageEnv, Strategy
from skiff_apiserver.storage.leases import LeaseManager


class EventStrategy(Strategy):
    create_in_terminating_namespace = True

    def __init__(self, info: KindInfo, env: StorageEnv | None = None) -> None:
        super().__init__(info, env)
        ttl = env.event_ttl if env is not None else 0
        # 0 keeps Events forever.
        self.leases = LeaseManager(env.client, ttl, window=min(60, ttl)) if env is not None and ttl > 0 else None

    async def storage_lease(self) -> int:
        return await self.leases.lease_id() if self.leases is not None else 0

    def default(self, obj: Any) -> None:
        ev = obj  # Event
        if not ev.count:
            ev.count = 1
        ev.type = ev.type or "Normal"
        if not ev.HasField("first_timestamp") and ev.HasField("last_timestamp"):
            ev.first_timestamp.CopyFrom(ev.last_timestamp)
        if not ev.HasField("last_timestamp") and ev.HasField("first_timestamp"):
            ev.last_timestamp.CopyFrom(ev.first_timestamp)

    def validate(self, obj: Any) -> list[FieldError]:
        ev = obj
        errs: list[FieldError] = []
        io = ev.involved_object
        if not io.kind:
            errs.append(FieldError("involvedObject.kind", "Required value"))
        if not io.name:
            errs.append(FieldError("involvedObject.name", "Required value"))
        if io.namespace and io.namespace != ev.metadata.namespace:
            errs.append(FieldError("involvedObject.namespace", "Invalid value", "does not match event.namespace"))
        if ev.type not in ("Normal", "Warning"):
            errs.append(FieldError("type", "Unsupported value", f'{ev.type!r}: supported values: "Normal", "Warning"'))
        return errs
