"""DaemonSet history as ControllerRevisions, as Kubernetes keeps it (constructHistory / cleanupHistory).

Each distinct pod template a DaemonSet has had is one ControllerRevision it controls:

    name      <daemonset>-<hash>          hash = revision.template_hash (template + collisionCount)
    labels    the template's labels + controller-revision-hash=<hash>   (pods carry the same label)
    data      {"spec": {"template": {<template>, "$patch": "replace"}}}  -- the strategic merge patch
              that restores the template; `kubectl rollout undo daemonset` sends exactly this
    revision  1, 2, 3 ...: the current one always has the highest number

On every sync: the revision whose data equals the DaemonSet's patch is current; none -> create one with
max(old) + 1; found but not the newest (a rollback to an old template) -> renumber it max(old) + 1, as
Kubernetes does. A name taken by different data is a hash collision: bump status.collisionCount and
retry (the next hash differs). Old revisions beyond revisionHistoryLimit go, oldest first, except those a
live pod still carries. Revisions are claimed like pods (orphans matching the selector adopted), so a
DaemonSet deleted with --cascade=orphan and created again keeps its history.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import struct_pb2
from skiff.api.apps.v1 import apps_pb2
from skiff.api.apps.v1.controllerrevision_pb2 import ControllerRevision
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.controller import CONTROLLER_UID_INDEX, ControllerRefManager, controller_ref, new_controller_ref
from skiff_client.informer import Informer
from skiff_client.store import NAMESPACE_INDEX
from skiff_common import errors
from skiff_common.apimachinery import convert
from skiff_common.apimachinery.labels import Selector
from skiff_common.observability import get_logger

from skiff_controllers.daemonset import revision

log = get_logger(__name__)

API_VERSION = "apps/v1"
KIND = "DaemonSet"


def patch_of(ds: apps_pb2.DaemonSet) -> struct_pb2.Struct:
    """The strategic merge patch that restores this DaemonSet's pod template (Kubernetes' getPatch)."""
    template = convert.to_dict(ds.spec.template)
    template["$patch"] = "replace"
    data = struct_pb2.Struct()
    data.update({"spec": {"template": template}})
    return data


def split(
    revisions: Iterable[ControllerRevision], want: struct_pb2.Struct
) -> tuple[list[ControllerRevision], list[ControllerRevision]]:
    """(current, old): the revisions holding this template, and the others."""
    current: list[ControllerRevision] = []
    old: list[ControllerRevision] = []
    for r in revisions:
        (current if r.data == want else old).append(r)
    return current, old


def to_delete(old: list[ControllerRevision], limit: int, live_hashes: set[str]) -> list[ControllerRevision]:
    """Old revisions beyond `limit`, oldest first, skipping any a live pod still runs."""
    extra = len(old) - limit
    out: list[ControllerRevision] = []
    for r in sorted(old, key=lambda r: r.revision):
        if extra <= 0:
            break
        if r.metadata.labels.get(revision.HASH_LABEL, "") in live_hashes:
            continue
        out.append(r)
        extra -= 1
    return out


class History:
    """The ControllerRevision side of the DaemonSet controller (one per controller)."""

    def __init__(self, api: ApiClient, informer: Informer[ControllerRevision]) -> None:
        self.api = api
        self.revisions = informer

    async def construct(
        self, ds: apps_pb2.DaemonSet, selector: Selector
    ) -> tuple[ControllerRevision, list[ControllerRevision]]:
        """The current revision (created or renumbered when needed) and the old ones."""
        ns = ds.metadata.namespace
        candidates = [
            r
            for r in self.revisions.store.by_index(CONTROLLER_UID_INDEX, ds.metadata.uid)
            if r.metadata.namespace == ns
        ]
        candidates += [r for r in self.revisions.store.by_index(NAMESPACE_INDEX, ns) if controller_ref(r) is None]
        manager = ControllerRefManager(
            self.api, ds, API_VERSION, KIND, lambda r: selector.matches(dict(r.metadata.labels))
        )
        owned: list[ControllerRevision] = await manager.claim(candidates)
        want = patch_of(ds)
        current, old = split(owned, want)
        next_number = max((r.revision for r in old), default=0) + 1
        if not current:
            return await self._snapshot(ds, want, next_number), old
        cur = max(current, key=lambda r: r.revision)
        for dup in current:  # the same template twice (only after a collision): keep the newest
            if dup is not cur:
                await self._delete(dup)
        if cur.revision < next_number:
            renumbered = ControllerRevision()
            renumbered.CopyFrom(cur)
            renumbered.revision = next_number
            cur = await self.api.update(renumbered)
            log.info("daemonset.revision_renumbered", ds=ds.metadata.name, revision=next_number)
        return cur, old

    async def _snapshot(self, ds: apps_pb2.DaemonSet, data: struct_pb2.Struct, number: int) -> ControllerRevision:
        hash_ = revision.template_hash(ds)
        rev = ControllerRevision(
            api_version=API_VERSION,
            kind="ControllerRevision",
            metadata=meta_pb2.ObjectMeta(
                name=f"{ds.metadata.name}-{hash_}",
                namespace=ds.metadata.namespace,
                labels={**ds.spec.template.metadata.labels, revision.HASH_LABEL: hash_},
                annotations=dict(ds.metadata.annotations),
            ),
            revision=number,
        )
        rev.metadata.owner_references.append(new_controller_ref(ds, API_VERSION, KIND))
        rev.data.CopyFrom(data)
        try:
            created: ControllerRevision = await self.api.create(rev)
            log.info("daemonset.revision_created", ds=ds.metadata.name, revision=number, hash=hash_)
            return created
        except errors.AlreadyExists:
            existing: ControllerRevision = await self.api.get(
                ControllerRevision, rev.metadata.name, rev.metadata.namespace
            )
            if existing.data == data:
                return existing  # ours, not yet in the cache
        await self._bump_collision_count(ds)
        raise errors.Conflict(f"controller revision {rev.metadata.name} holds another template: hash collision")

    async def _bump_collision_count(self, ds: apps_pb2.DaemonSet) -> None:
        fresh = await self.api.get(apps_pb2.DaemonSet, ds.metadata.name, ds.metadata.namespace)
        if fresh.status.collision_count != ds.status.collision_count:
            return  # our copy was stale: the retry uses the new count
        fresh.status.collision_count = fresh.status.collision_count + 1
        await self.api.update_status(fresh)

    async def cleanup(self, ds: apps_pb2.DaemonSet, old: list[ControllerRevision], pods: Iterable[pod_pb2.Pod]) -> None:
        live = {p.metadata.labels.get(revision.HASH_LABEL, "") for p in pods} - {""}
        for r in to_delete(old, ds.spec.revision_history_limit, live):
            await self._delete(r)

    async def _delete(self, r: ControllerRevision) -> None:
        try:
            await self.api.delete(
                ControllerRevision, r.metadata.name, r.metadata.namespace, preconditions_uid=r.metadata.uid
            )
        except (errors.NotFound, errors.FailedPrecondition):
            pass
