"""The per-kind strategy: what differs between kinds, nothing else.

The generic registry (store.py) does storage, metadata, concurrency and deletion for every kind; a strategy
only answers kind-specific questions, like Kubernetes' rest.RESTCreateStrategy/RESTUpdateStrategy:

* `default(obj)`                       fill defaults (on create and on every update, so patches stay valid)
* `prepare_for_create(obj)`            reset what a client may not set on create (usually status)
* `validate(obj)`                      field errors of the whole object
* `validate_update(new, old)`          plus immutable fields
* which part is "spec" (bumps metadata.generation) and whether a status subresource exists, which makes
  Update ignore status and UpdateStatus ignore everything but status.
"""

from __future__ import annotations

from typing import Any, TypeVar

from google.protobuf.message import Message
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import KindInfo, validation

M = TypeVar("M", bound=Message)


def copy(obj: Any) -> Message:
    out = type(obj)()
    out.CopyFrom(obj)
    return out


def _has(obj: Message, name: str) -> bool:
    return name in obj.DESCRIPTOR.fields_by_name


class Strategy:
    """Defaults for a kind with metadata and optional spec/status; subclasses override what differs."""

    #: Pods are deleted gracefully (the kubelet confirms the final delete).
    graceful_delete = False

    def __init__(self, info: KindInfo) -> None:
        self.info = info
        self.has_status = "status" in info.subresources and _has(info.message(), "status")

    # -- hooks ---------------------------------------------------------------------------------------
    def default(self, obj: Any) -> None:
        pass

    def prepare_for_create(self, obj: Any) -> None:
        if self.has_status:
            obj.ClearField("status")

    def validate(self, obj: Any) -> list[FieldError]:
        return []

    def validate_update(self, new: Any, old: Any) -> list[FieldError]:
        return self.validate(new)

    def holds_deletion(self, obj: Any) -> bool:
        """Kind-specific reasons (beyond metadata.finalizers) to keep a deleted object around."""
        return False

    def begin_delete(self, obj: Any) -> None:
        """Called when deletion starts on an object that will stay around for a while."""

    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1123_subdomain(name, path)

    # -- generic helpers -----------------------------------------------------------------------------
    def validate_meta(self, obj: Any) -> list[FieldError]:
        return list(
            validation.validate_object_meta(
                obj.metadata,
                "metadata",
                namespaced=self.info.namespaced,
                name_validator=self.name_errors,
            )
        )

    def desired_state(self, obj: Any) -> bytes:
        """The bytes whose change bumps metadata.generation: everything but metadata, type meta and
        (when the kind has a status subresource) status."""
        c: Any = copy(obj)
        c.ClearField("metadata")
        c.api_version = ""
        c.kind = ""
        if self.has_status:
            c.ClearField("status")
        return c.SerializeToString(deterministic=True)

    def merge_for_update(self, new: Any, old: Any) -> None:
        """Update ignores status changes when the kind has a status subresource."""
        if self.has_status:
            new.status.CopyFrom(old.status)
            if not old.HasField("status"):
                new.ClearField("status")

    def merge_for_status_update(self, new: Any, old: Any) -> Message:
        """UpdateStatus takes only status from the client; the result starts as the stored object."""
        out: Any = copy(old)
        out.status.CopyFrom(new.status)
        return out  # type: ignore[no-any-return]


def immutable(path: str, new: object, old: object) -> list[FieldError]:
    if new != old:
        return [FieldError(path, "Invalid value", "field is immutable")]
    return []
