"""Deployment controller: rolls a pod template out through ReplicaSets, Kubernetes' way.

reconcile(ns/name)::

    rss  = ReplicaSets the Deployment controls (claimed by UID: matching orphans adopted, strays released)
    deleting        -> status only
    paused          -> Progressing=Unknown/DeploymentPaused; only resize (scaling events), prune history
    scaling event   -> proportional resize of the active ReplicaSets (spec.replicas changed mid-rollout)
    RollingUpdate   -> new RS <deploy>-<hash> created/found; scale it up within maxSurge, else scale old
                       ones down within maxUnavailable (planning.py); prune history once complete
    Recreate        -> old ReplicaSets to 0, wait until their pods are gone, then the new one to full size
    status          -> counts, Available and Progressing (status.py), written only when changed;
                       requeued for the progress deadline

A rollback (``kubectl rollout undo``) is just a template change back to an old ReplicaSet's template:
``find_new`` recognises that ReplicaSet (ignoring its hash label) and it gets the next revision.
"""

from __future__ import annotations

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_client import object_key
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    ControllerBuilder,
    ControllerRefManager,
    Result,
    TerminalError,
    WorkLoop,
    controller_ref,
    controller_uid_index,
    is_deleting,
    owner_key,
)
from skiff_client.store import NAMESPACE_INDEX
from skiff_common.apimachinery import labels

from skiff_controllers.base import ControllerContext
from skiff_controllers.deployment import planning
from skiff_controllers.deployment import status as st
from skiff_controllers.deployment.sync import Sync
from skiff_controllers.deployment.util import active, is_rolling, split_new_old

NAME = "deployment"
RS = apps_pb2.ReplicaSet


class DeploymentController:
    def __init__(self, ctx: ControllerContext, workers: int = 5) -> None:
        self.ctx = ctx
        self.api = ctx.api
        self.deployments = ctx.factory.informer(apps_pb2.Deployment)
        self.rss = ctx.factory.informer(apps_pb2.ReplicaSet)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(apps_pb2.Deployment)
            .owns(apps_pb2.ReplicaSet)
            .watches(apps_pb2.ReplicaSet, self._orphan_adopters)
            .watches(pod_pb2.Pod, self._recreate_owner)
            .workers(workers)
            .complete(self.reconcile)
        )
        if not self.pods.store.has_indexer(CONTROLLER_UID_INDEX):
            self.pods.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)

    # -- mappers ----------------------------------------------------------------------------------
    def _orphan_adopters(self, rs: RS) -> list[str]:
        if controller_ref(rs) is not None or is_deleting(rs):
            return []
        keys = []
        for d in self.deployments.store.by_index(NAMESPACE_INDEX, rs.metadata.namespace):
            try:
                selector = labels.selector_from_proto(d.spec.selector)
            except ValueError:
                continue
            if not selector.empty() and selector.matches(dict(rs.metadata.labels)):
                keys.append(object_key(d))
        return keys

    def _recreate_owner(self, pod: pod_pb2.Pod) -> list[str]:
        """Recreate waits for old pods to be gone: their changes wake the Deployment."""
        rs_key = owner_key(pod, self.rss, "ReplicaSet")
        rs = self.rss.store.get(rs_key) if rs_key is not None else None
        if rs is None:
            return []
        key = owner_key(rs, self.deployments, "Deployment")
        d = self.deployments.store.get(key) if key is not None else None
        return [key] if key is not None and d is not None and not is_rolling(d) else []

    # -- reconcile --------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        cached = self.deployments.store.get(key)
        if cached is None:
            return None
        sync = Sync(self.api, self.ctx.events, cached)
        d = sync.d
        try:
            selector = labels.selector_from_proto(d.spec.selector)
        except ValueError as exc:
            raise TerminalError(f"spec.selector: {exc}") from exc
        if selector.empty():
            self.ctx.events.record(
                d, "Warning", "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required."
            )
            if d.status.observed_generation < d.metadata.generation:
                d.status.observed_generation = d.metadata.generation
                await sync.finish_status(d.status)
            return None
        rss = await self._claim(d, selector)
        if is_deleting(d):
            new, old = split_new_old(d, rss)
            await sync.plain_status([*old, new], new)
            return None
        if (cond := st.paused_condition(d, sync.now)) is not None:
            st.set_condition(d.status, cond)
        if d.spec.paused or planning.is_scaling_event(d, rss):
            return await self._resize(sync, rss)
        if is_rolling(d):
            return await self._rolling(sync, rss)
        return await self._recreate(sync, rss)

    async def _claim(self, d: apps_pb2.Deployment, selector: labels.Selector) -> list[RS]:
        ns = d.metadata.namespace
        owned = [
            rs for rs in self.rss.store.by_index(CONTROLLER_UID_INDEX, d.metadata.uid) if rs.metadata.namespace == ns
        ]
        orphans = [rs for rs in self.rss.store.by_index(NAMESPACE_INDEX, ns) if controller_ref(rs) is None]
        manager = ControllerRefManager(
            self.api, d, "apps/v1", "Deployment", lambda rs: selector.matches(dict(rs.metadata.labels))
        )
        return await manager.claim(owned + orphans)

    async def _resize(self, sync: Sync, rss: list[RS]) -> Result | None:
        """Kubernetes' ``sync``: scaling events and paused Deployments."""
        existing, old = split_new_old(sync.d, rss)
        new = await sync.new_rs(existing, old, create=False)
        plan = planning.plan_scale(sync.d, new, old)
        if plan:
            operation = None
            total_before = sum(r.spec.replicas for r in active([new, *old]))
            total_after = sum(plan.values()) + sum(
                r.spec.replicas for r in active([new, *old]) if r.metadata.name not in plan
            )
            if total_after != total_before:
                operation = "up" if total_after > total_before else "down"
            new_list = await sync.apply(plan, [r for r in [new] if r is not None], operation)
            new = new_list[0] if new_list else None
            old = await sync.apply(plan, old, operation)
        if sync.d.spec.paused:
            await sync.cleanup(old)
        await sync.plain_status([*old, new], new)
        return None

    async def _rolling(self, sync: Sync, rss: list[RS]) -> Result | None:
        d = sync.d
        existing, old = split_new_old(d, rss)
        new = await sync.new_rs(existing, old, create=True)
        assert new is not None  # create=True returns the ReplicaSet or raises
        plan = planning.plan_new(d, [*old, new], new)
        if plan:
            new = await sync.scale(new, plan[new.metadata.name])
            return await sync.rollout_status([*old, new], new)
        plan = planning.plan_old(d, old, new)
        if plan:
            old = await sync.apply(plan, old)
            return await sync.rollout_status([*old, new], new)
        if st.is_complete(d, d.status):
            await sync.cleanup(old)
        return await sync.rollout_status([*old, new], new)

    async def _recreate(self, sync: Sync, rss: list[RS]) -> Result | None:
        d = sync.d
        existing, old = split_new_old(d, rss)
        new = await sync.new_rs(existing, old, create=False)
        plan = {rs.metadata.name: 0 for rs in active(old)}
        if plan:
            old = await sync.apply(plan, old)
            return await sync.rollout_status([*old, new], new)
        if self._old_pods_running(new, old):
            return await sync.rollout_status([*old, new], new)
        if new is None:
            new = await sync.new_rs(None, old, create=True)
            assert new is not None
        new = await sync.scale(new, d.spec.replicas if d.spec.HasField("replicas") else 1)
        if st.is_complete(d, d.status):
            await sync.cleanup(old)
        return await sync.rollout_status([*old, new], new)

    def _old_pods_running(self, new: RS | None, old: list[RS]) -> bool:
        if sum(rs.status.replicas for rs in old) > 0:
            return True
        for rs in old:
            if new is not None and rs.metadata.uid == new.metadata.uid:
                continue
            for pod in self.pods.store.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid):
                if pod.status.phase not in ("Succeeded", "Failed"):
                    return True
        return False


def new_deployment(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(ctx)
