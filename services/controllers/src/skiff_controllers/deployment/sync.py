"""One Deployment sync's writes: find or create the new ReplicaSet, resize ReplicaSets (with the
``ScalingReplicaSet`` Event), prune old revisions, and finally write status once if it changed.

A ``Sync`` works on a private copy of the Deployment: conditions found on the way (new ReplicaSet
created or found) are set on that copy, and ``finish`` compares its status with the cached one, so a
sync that changed nothing writes nothing. ReplicaSet updates carry the resourceVersion read from the
cache: a stale cache ends in Conflict and a retry, never in a decision taken on old numbers.
"""

from __future__ import annotations

import copy
import time

from skiff.api.apps.v1 import apps_pb2
from skiff_client import ApiClient, EventRecorder
from skiff_client.controller import Result, controller_ref, is_deleting, new_controller_ref
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_controllers.deployment import status as st
from skiff_controllers.deployment.planning import Plan, new_rs_replicas
from skiff_controllers.deployment.util import (
    REVISION,
    by_revision,
    desired,
    equal_ignore_hash,
    max_revision,
    max_surge,
    new_replica_set,
    replicas,
    replicas_annotations_need_update,
    set_new_rs_annotations,
    set_replicas_annotations,
)

log = get_logger(__name__)
RS = apps_pb2.ReplicaSet


class Sync:
    def __init__(self, api: ApiClient, events: EventRecorder, cached: apps_pb2.Deployment) -> None:
        self.api = api
        self.events = events
        self.cached = cached
        self.d = copy.deepcopy(cached)
        self.now = time.time()

    # -- the new ReplicaSet -----------------------------------------------------------------------
    async def new_rs(self, existing: RS | None, old: list[RS], create: bool) -> RS | None:
        """Kubernetes' getNewReplicaSet: sync the existing one's annotations, or create it."""
        d = self.d
        new_revision = max_revision(old) + 1
        if existing is not None:
            rs = copy.deepcopy(existing)
            changed = set_new_rs_annotations(d, rs, new_revision, exists=True)
            if changed or rs.spec.min_ready_seconds != d.spec.min_ready_seconds:
                rs.spec.min_ready_seconds = d.spec.min_ready_seconds
                return await self.api.update(rs)
            await self._set_revision(rs.metadata.annotations.get(REVISION, ""))
            if st.has_progress_deadline(d) and st.get_condition(d.status, st.PROGRESSING) is None:
                msg = f'Found new replica set "{rs.metadata.name}"'
                st.set_condition(d.status, st.new_condition(st.PROGRESSING, "True", st.FOUND_NEW_RS, msg, self.now))
            return rs
        if not create:
            return None
        rs = new_replica_set(d, 0, new_revision)
        rs.metadata.owner_references.append(new_controller_ref(d, "apps/v1", "Deployment"))
        count = new_rs_replicas(d, [*old, rs], rs)
        rs.spec.replicas = count
        try:
            created = await self.api.create(rs)
        except errors.AlreadyExists:
            found = await self.api.get(RS, rs.metadata.name, rs.metadata.namespace)
            ref = controller_ref(found)
            if (
                ref is not None
                and ref.uid == d.metadata.uid
                and equal_ignore_hash(found.spec.template, d.spec.template)
            ):
                return found
            # A different ReplicaSet holds the name: hash again with a higher collision count.
            fresh = copy.deepcopy(self.cached)
            fresh.status.collision_count = (d.status.collision_count if d.status.HasField("collision_count") else 0) + 1
            await self.api.update_status(fresh)
            raise
        except errors.SkiffError as exc:
            msg = f'Failed to create new replica set "{rs.metadata.name}": {exc}'
            if st.has_progress_deadline(d):
                st.set_condition(
                    d.status, st.new_condition(st.PROGRESSING, "False", st.FAILED_RS_CREATE, msg, self.now)
                )
                await self.finish_status(d.status)
            self.events.record(d, "Warning", st.FAILED_RS_CREATE, msg)
            raise
        if count > 0:
            self.events.record(
                d, "Normal", "ScalingReplicaSet", f"Scaled up replica set {created.metadata.name} from 0 to {count}"
            )
        await self._set_revision(str(new_revision))
        if st.has_progress_deadline(d):
            msg = f'Created new replica set "{created.metadata.name}"'
            st.set_condition(d.status, st.new_condition(st.PROGRESSING, "True", st.NEW_RS_CREATED, msg, self.now))
        return created

    async def _set_revision(self, revision: str) -> None:
        if not revision or self.d.metadata.annotations.get(REVISION) == revision:
            return
        self.d.metadata.annotations[REVISION] = revision
        # An Update of the cached object (a Conflict is retried with backoff on a fresh cache), as
        # Kubernetes' deployment controller does: its role may update Deployments, not patch them.
        fresh = copy.deepcopy(self.cached)
        fresh.metadata.annotations[REVISION] = revision
        await self.api.update(fresh)

    # -- resizing ---------------------------------------------------------------------------------
    async def scale(self, rs: RS, size: int, operation: str | None = None) -> RS:
        """Resize ``rs`` (and refresh its replicas annotations); an Event when the size changed."""
        d = self.d
        want, max_total = desired(d), desired(d) + max_surge(d)
        size_changes = replicas(rs) != size
        if not size_changes and not replicas_annotations_need_update(rs, want, max_total):
            return rs
        old_size = replicas(rs)
        fresh = copy.deepcopy(rs)
        fresh.spec.replicas = size
        set_replicas_annotations(fresh, want, max_total)
        updated = await self.api.update(fresh)
        if size_changes:
            op = operation or ("up" if size > old_size else "down")
            self.events.record(
                d,
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {op} replica set {rs.metadata.name} from {old_size} to {size}",
            )
        return updated

    async def apply(self, plan: Plan, rss: list[RS], operation: str | None = None) -> list[RS]:
        """Apply ``{name: size}`` to the ReplicaSets; returns the list with updated objects."""
        out = []
        for rs in rss:
            if rs.metadata.name in plan:
                rs = await self.scale(rs, plan[rs.metadata.name], operation)
            out.append(rs)
        return out

    async def cleanup(self, old: list[RS]) -> None:
        """Delete the oldest fully scaled-down ReplicaSets beyond revisionHistoryLimit."""
        d = self.d
        if not d.spec.HasField("revision_history_limit"):
            return
        alive = [rs for rs in old if not is_deleting(rs)]
        diff = len(alive) - d.spec.revision_history_limit
        for rs in by_revision(alive)[: max(diff, 0)]:
            if rs.status.replicas != 0 or replicas(rs) != 0 or rs.metadata.generation > rs.status.observed_generation:
                continue
            log.info("deployment.cleanup", deployment=d.metadata.name, replicaset=rs.metadata.name)
            try:
                await self.api.delete(RS, rs.metadata.name, rs.metadata.namespace, preconditions_uid=rs.metadata.uid)
            except (errors.NotFound, errors.Conflict):
                pass

    # -- status -----------------------------------------------------------------------------------
    async def rollout_status(self, all_rss: list[RS | None], new: RS | None) -> Result | None:
        status = st.rollout_status(self.d, all_rss, new, self.now)
        await self.finish_status(status)
        after = st.requeue_for_deadline(self.d, status, self.now)
        return Result(requeue_after=after) if after is not None else None

    async def plain_status(self, all_rss: list[RS | None], new: RS | None) -> None:
        await self.finish_status(st.calculate_status(self.d, all_rss, new, self.now))

    async def finish_status(self, status: apps_pb2.DeploymentStatus) -> None:
        self.d.status.CopyFrom(status)
        if status == self.cached.status:
            return
        fresh = copy.deepcopy(self.cached)
        fresh.status.CopyFrom(status)
        try:
            await self.api.update_status(fresh)
            return
        except errors.NotFound:
            return
        except errors.Conflict:
            pass
        # Usually our own metadata patch (the revision annotation) moved the resourceVersion: the
        # status is still right for the same generation, so write it onto the latest object.
        try:
            latest = await self.api.get(apps_pb2.Deployment, self.cached.metadata.name, self.cached.metadata.namespace)
        except errors.NotFound:
            return
        if latest.metadata.generation != self.cached.metadata.generation:
            return  # a new spec: the informer enqueues it and the next sync computes afresh
        latest.status.CopyFrom(status)
        await self.api.update_status(latest)
