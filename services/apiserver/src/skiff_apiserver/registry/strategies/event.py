"""Events: involvedObject required and in the event's namespace; count and timestamps defaulted."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.registry.strategy import Strategy


class EventStrategy(Strategy):
    def default(self, obj: Message) -> None:
        ev = obj  # Event
        if not ev.count:  # type: ignore[attr-defined]
            ev.count = 1  # type: ignore[attr-defined]
        ev.type = ev.type or "Normal"  # type: ignore[attr-defined]
        if not ev.HasField("first_timestamp") and ev.HasField("last_timestamp"):
            ev.first_timestamp.CopyFrom(ev.last_timestamp)  # type: ignore[attr-defined]
        if not ev.HasField("last_timestamp") and ev.HasField("first_timestamp"):
            ev.last_timestamp.CopyFrom(ev.first_timestamp)  # type: ignore[attr-defined]

    def validate(self, obj: Message) -> list[FieldError]:
        ev = obj
        errs: list[FieldError] = []
        io = ev.involved_object  # type: ignore[attr-defined]
        if not io.kind:
            errs.append(FieldError("involvedObject.kind", "Required value"))
        if not io.name:
            errs.append(FieldError("involvedObject.name", "Required value"))
        if io.namespace and io.namespace != ev.metadata.namespace:  # type: ignore[attr-defined]
            errs.append(FieldError("involvedObject.namespace", "Invalid value",
                                   "does not match event.namespace"))
        if ev.type not in ("Normal", "Warning"):  # type: ignore[attr-defined]
            errs.append(FieldError("type", "Unsupported value", f'{ev.type!r}: supported values: "Normal", "Warning"'))  # type: ignore[attr-defined]
        return errs
