"""The per-kind strategy: what differs between kinds, nothing else.

The generic registry (store.py) does storage, metadata, concurrency and deletion for every kind and names
no kind; a strategy answers every kind-specific question, like Kubernetes' rest.RESTCreateStrategy /
RESTUpdateStrategy and the BeginCreate/AfterDelete hooks of its generic registry.Store:

* `default(obj)`                       fill defaults (on create and on every update, so patches stay valid)
* `prepare_for_create(obj)`            reset what a client may not set on create (usually status)
* `validate(obj)`                      field errors of the whole object
* `validate_update(new, old)`          plus immutable fields
* which part is "spec" (bumps metadata.generation) and whether a status subresource exists, which makes
  Update ignore status and UpdateStatus ignore everything but status; other subresources that replace a
  part of the object (a namespace's `finalize`) through `merge_for_subresource_update`.
* resources held outside the object's own key (a Service's cluster IP and node ports): taken in
  `before_create` / `before_update`, given back in `after_create_failed` / `after_update_failed` when the
  write did not happen, and in `after_update` / `after_delete` once the stored object no longer holds them.
* `storage_lease()`                     the etcd lease a new object is attached to (Events expire), 0: none
* `create_in_terminating_namespace`    whether a namespace being emptied still accepts this kind (Events)
* `holds_deletion` / `begin_delete`    kind-specific reasons to keep a deleted object, and what marks it
* `deletion_grace(obj, requested)`     the grace period of a delete (pods), 0 for most kinds
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from google.protobuf.message import Message
from skiff_common import errors
from skiff_common.errors import FieldError

from skiff_apiserver.machinery import KindInfo, validation
from skiff_apiserver.storage.etcd import EtcdClient

M = TypeVar("M", bound=Message)


def copy(obj: M) -> M:
    out = type(obj)()
    out.CopyFrom(obj)
    return out


def _has(obj: Message, name: str) -> bool:
    return name in obj.DESCRIPTOR.fields_by_name


@dataclass(frozen=True)
class StorageEnv:
    """What strategies that keep state beside their objects need: the etcd client, the key prefix and the
    flags that size their resources. Strategies built without one (pure validation) allocate nothing."""

    client: EtcdClient
    prefix: str
    service_cidr: str = ""
    node_port_range: str = "30000-32767"
    event_ttl: int = 3600


class Strategy:
    """Defaults for a kind with metadata and optional spec/status; subclasses override what differs."""

    #: Pods are deleted gracefully (the kubelet confirms the final delete).
    graceful_delete = False
    #: NamespaceLifecycle lets this kind be created in a namespace that is being emptied.
    create_in_terminating_namespace = False

    def __init__(self, info: KindInfo, env: StorageEnv | None = None) -> None:
        self.info = info
        self.env = env
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

    def deletion_grace(self, obj: Any, requested: int | None) -> int:
        """Seconds the object stays once deleted before it may go (graceful_delete kinds only)."""
        return 0

    def begin_delete(self, obj: Any) -> None:
        """Called when deletion starts on an object that will stay around for a while."""

    def name_errors(self, name: str, path: str) -> list[FieldError]:
        return validation.validate_dns1123_subdomain(name, path)

    # -- storage hooks (async: they may write to etcd) -----------------------------------------------------
    async def before_create(self, obj: Any, *, dry_run: bool = False) -> bool:
        """Take what the object holds outside its key; runs after validation, right before the write.
        True if it changed the object (the store then encodes it again). `dry_run`: only check that
        what the object asks for is free, take nothing (a dry-run create fails where the create would)."""
        return False

    async def after_create_failed(self, obj: Any) -> None:
        """The create did not happen: give back what before_create took."""

    async def before_update(self, new: Any, old: Any, *, dry_run: bool = False) -> bool:
        """Take what `new` holds and `old` did not; runs right before the compare-and-swap. True if it
        changed `new`. `dry_run` as for before_create."""
        return False

    async def after_update_failed(self, new: Any, old: Any) -> None:
        """The compare-and-swap lost: give back what before_update took (it may be retried)."""

    async def after_update(self, new: Any, old: Any) -> None:
        """The update is stored: give back what `old` held and `new` does not."""

    async def after_delete(self, obj: Any) -> None:
        """The object is gone from etcd: give back everything it held."""

    async def storage_lease(self) -> int:
        """The etcd lease id a new object is attached to (it expires with the lease); 0: none."""
        return 0

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
        data: bytes = c.SerializeToString(deterministic=True)
        return data

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

    def merge_for_subresource_update(self, subresource: str, new: Any, old: Any) -> Message:
        """An update through a subresource takes only that subresource's part of `new`."""
        if subresource == "status" and self.has_status:
            return self.merge_for_status_update(new, old)
        raise errors.NotFound(f"{self.info.resource} has no {subresource} subresource")


def immutable(path: str, new: object, old: object) -> list[FieldError]:
    if new != old:
        return [FieldError(path, "Invalid value", "field is immutable")]
    return []
