"""Controller references and the claim / adopt / release dance, by owner **UID**.

An object has at most one controller: the ownerReference with ``controller: true``. A name alone is
not an identity -- a ReplicaSet deleted and re-created under the same name is a different owner, and
must not inherit the old one's pods by accident -- so every decision here compares UIDs.

``ControllerRefManager.claim`` is Kubernetes' ``ClaimObjects``::

    controller ref == owner UID:  selector matches -> keep
                                  no longer matches -> release (patch the ref away), unless the owner is
                                                       being deleted
    controller ref, other UID:    not ours -> skip
    no controller ref (orphan):   matches, owner alive, object alive, same namespace -> adopt (patch a
                                  controller ref in; before the first adoption re-read the owner from the
                                  apiserver: it must still exist with the same UID and not be deleting)

Patches are JSON patches that first ``test`` the object's UID, so a re-created object with the same
name is never adopted or released by mistake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_client.api import ApiClient

log = get_logger(__name__)
T = TypeVar("T")

CONTROLLER_UID_INDEX = "controllerUID"


def controller_ref(obj: Any) -> meta_pb2.OwnerReference | None:
    """The ownerReference with ``controller: true``, or None."""
    refs: Sequence[meta_pb2.OwnerReference] = obj.metadata.owner_references
    for ref in refs:
        if ref.HasField("controller") and ref.controller:
            return ref
    return None


def new_controller_ref(owner: Any, api_version: str, kind: str) -> meta_pb2.OwnerReference:
    return meta_pb2.OwnerReference(
        api_version=api_version,
        kind=kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


def controller_uid_index(obj: Any) -> list[str]:
    """Index function: the controller's UID (the builder installs it as ``"controllerUID"``)."""
    ref = controller_ref(obj)
    return [ref.uid] if ref is not None else []


def is_deleting(obj: Any) -> bool:
    return bool(obj.metadata.HasField("deletion_timestamp"))


def _ref_json(ref: meta_pb2.OwnerReference) -> dict[str, Any]:
    out: dict[str, Any] = {"apiVersion": ref.api_version, "kind": ref.kind, "name": ref.name, "uid": ref.uid}
    if ref.HasField("controller"):
        out["controller"] = ref.controller
    if ref.HasField("block_owner_deletion"):
        out["blockOwnerDeletion"] = ref.block_owner_deletion
    return out


class ControllerRefManager:
    """Claims objects for one owner (see the module docstring). One instance per reconcile."""

    def __init__(
        self,
        api: ApiClient,
        owner: Any,
        api_version: str,
        kind: str,
        selector_matches: Callable[[Any], bool],
        can_adopt: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self.api = api
        self.owner = owner
        self.api_version = api_version
        self.kind = kind
        self.selector_matches = selector_matches
        self._can_adopt = can_adopt
        self._adopt_checked: bool | None = None

    @property
    def owner_uid(self) -> str:
        return str(self.owner.metadata.uid)

    async def claim(self, objs: Sequence[T]) -> list[T]:
        """The objects this owner controls after adopting matching orphans and releasing strays."""
        claimed: list[T] = []
        for obj in objs:
            kept = await self._claim_one(obj)
            if kept is not None:
                claimed.append(kept)
        return claimed

    async def _claim_one(self, obj: Any) -> Any | None:
        ref = controller_ref(obj)
        if ref is not None:
            if ref.uid != self.owner_uid:
                return None
            if self.selector_matches(obj):
                return obj
            if not is_deleting(self.owner) and not is_deleting(obj):
                await self.release(obj)
            return None
        # An orphan.
        if is_deleting(self.owner) or is_deleting(obj) or not self.selector_matches(obj):
            return None
        ns = self.owner.metadata.namespace
        if ns and ns != obj.metadata.namespace:
            return None
        return await self.adopt(obj)

    async def can_adopt(self) -> bool:
        """Kubernetes' RecheckDeletionTimestamp: a live read of the owner, once per manager."""
        if self._adopt_checked is None:
            if self._can_adopt is not None:
                self._adopt_checked = await self._can_adopt()
            else:
                self._adopt_checked = await self._owner_alive()
        return self._adopt_checked

    async def _owner_alive(self) -> bool:
        meta = self.owner.metadata
        try:
            fresh: Any = await self.api.get(type(self.owner), meta.name, meta.namespace)
        except errors.NotFound:
            return False
        return bool(fresh.metadata.uid == meta.uid and not is_deleting(fresh))

    async def adopt(self, obj: Any) -> Any | None:
        """Patch our controller ref onto an orphan; the patched object, or None if it is gone or taken."""
        if not await self.can_adopt():
            return None
        ref = _ref_json(new_controller_ref(self.owner, self.api_version, self.kind))
        ops: list[dict[str, Any]] = [{"op": "test", "path": "/metadata/uid", "value": obj.metadata.uid}]
        if len(obj.metadata.owner_references):
            ops.append({"op": "add", "path": "/metadata/ownerReferences/-", "value": ref})
        else:
            ops.append({"op": "add", "path": "/metadata/ownerReferences", "value": [ref]})
        try:
            patched: Any = await self.api.patch(
                type(obj), obj.metadata.name, obj.metadata.namespace, ops, patch_type="json"
            )
        except (errors.NotFound, errors.BadRequest) as exc:
            log.debug("ownership.adopt_skipped", kind=self.kind, obj=obj.metadata.name, error=str(exc))
            return None
        # Someone else may have adopted it between our read and our patch: keep only if we won.
        mine = controller_ref(patched)
        return patched if mine is not None and mine.uid == self.owner_uid else None

    async def release(self, obj: Any) -> None:
        """Remove our ownerReference from an object we no longer select."""
        idx = next((i for i, r in enumerate(obj.metadata.owner_references) if r.uid == self.owner_uid), None)
        if idx is None:
            return
        ops = [
            {"op": "test", "path": "/metadata/uid", "value": obj.metadata.uid},
            {"op": "test", "path": f"/metadata/ownerReferences/{idx}/uid", "value": self.owner_uid},
            {"op": "remove", "path": f"/metadata/ownerReferences/{idx}"},
        ]
        try:
            await self.api.patch(type(obj), obj.metadata.name, obj.metadata.namespace, ops, patch_type="json")
        except (errors.NotFound, errors.BadRequest) as exc:
            # Gone, or the reference already moved: nothing of ours left to release.
            log.debug("ownership.release_skipped", kind=self.kind, obj=obj.metadata.name, error=str(exc))
