"""The resourcequota controller, as kube-controller-manager's: every ResourceQuota's status.hard follows its
spec.hard and status.used is recomputed from the namespace's objects (usage.py).

reconcile(namespace/name)::

    quota gone                  -> nothing
    otherwise                   -> objects of every kind the quota counts (informer caches for pods,
                                   services, configmaps, secrets and quotas; a List for other count/<kind>),
                                   status computed, written (resourceVersion-guarded) if it differs;
                                   look again after --resource-quota-sync-period (full resync)

What wakes a quota, as in Kubernetes: its creation and any change of spec.hard (not its status updates:
admission charges status.used before the object it charged is stored, so a recompute on every charge
would race with the create and give the charge back too early); and replenishment, when usage can only
have gone down: an object deleted, a pod turned terminal or started terminating, a Service changed its
type or ports; a pod stuck terminating (lost node) is looked at again when its deletion grace runs out.
Creates are charged by ResourceQuota admission, so nothing here reacts to them. Between
those events the periodic resync corrects any drift (a charge for a create that then failed). A restart
finds every quota in the informer's first list.
"""

from __future__ import annotations

import logging
import time
from copy import deepcopy
from typing import Any

from skiff.api.core.v1 import config_pb2, pod_pb2, quota_pb2, service_pb2
from skiff_client import Informer
from skiff_client.controller import Result, WorkLoop
from skiff_client.store import NAMESPACE_INDEX, object_key
from skiff_common import errors
from skiff_common.quota import usage as quota_usage

from skiff_controllers.base import ControllerContext
from skiff_controllers.resourcequota import usage

NAME = "resourcequota"
log = logging.getLogger(__name__)


class ResourceQuotaController:
    def __init__(self, ctx: ControllerContext, workers: int = 2) -> None:
        self.api = ctx.api
        self.sync_period = ctx.config.resource_quota_sync_period
        self.quotas = ctx.factory.informer(quota_pb2.ResourceQuota)
        self.cached: dict[usage.Source, Informer[Any]] = {
            ("pods", ""): ctx.factory.informer(pod_pb2.Pod),
            ("services", ""): ctx.factory.informer(service_pb2.Service),
            ("configmaps", ""): ctx.factory.informer(config_pb2.ConfigMap),
            ("secrets", ""): ctx.factory.informer(config_pb2.Secret),
            ("resourcequotas", ""): self.quotas,
        }
        self.loop = WorkLoop(NAME, self.reconcile, workers=workers, wait_synced=ctx.factory.wait_synced)
        self.quotas.add_handler(on_add=self._quota_added, on_update=self._quota_updated)
        for (resource, group), informer in self.cached.items():
            informer.add_handler(on_update=self._replenish_update(resource), on_delete=self._replenish(resource, group))

    # -- event handlers: only enqueue ------------------------------------------------------------------
    def _quota_added(self, quota: Any) -> None:
        self.loop.enqueue(object_key(quota))

    def _quota_updated(self, old: Any, new: Any) -> None:
        if old.spec != new.spec:
            self.loop.enqueue(object_key(new))

    def _enqueue_tracking(self, namespace: str, resource: str, group: str) -> None:
        for quota in self.quotas.store.by_index(NAMESPACE_INDEX, namespace):
            if any(quota_usage.tracks(n, resource, group) for n in quota.spec.hard):
                self.loop.enqueue(object_key(quota))

    def _replenish(self, resource: str, group: str) -> Any:
        def on_delete(obj: Any) -> None:
            self._enqueue_tracking(obj.metadata.namespace, resource, group)

        return on_delete

    def _replenish_update(self, resource: str) -> Any:
        def on_update(old: Any, new: Any) -> None:
            if resource == "pods":
                released = quota_usage.pod_counts(old) and not quota_usage.pod_counts(new)
                terminating = new.metadata.HasField("deletion_timestamp") and not old.metadata.HasField(
                    "deletion_timestamp"
                )
                if released or terminating:
                    self._enqueue_tracking(new.metadata.namespace, "pods", "")
            elif resource == "services":
                if quota_usage.service_usage(old) != quota_usage.service_usage(new):
                    self._enqueue_tracking(new.metadata.namespace, "services", "")

        return on_update

    # -- reconcile -------------------------------------------------------------------------------------
    async def _objects(self, source: usage.Source, namespace: str) -> list[Any]:
        informer = self.cached.get(source)
        if informer is not None:
            return informer.store.by_index(NAMESPACE_INDEX, namespace)
        resource, group = source
        try:
            listed: Any = await self.api.list_all(f"{resource}.{group}" if group else resource, namespace)
        except errors.NotFound:
            return []  # a kind this cluster does not serve: nothing of it exists
        return list(listed.items)

    async def reconcile(self, key: str) -> Result | None:
        quota = self.quotas.store.get(key)
        if quota is None:
            return None
        namespace = quota.metadata.namespace
        objects = {src: await self._objects(src, namespace) for src in usage.sources(quota.spec.hard)}
        now = time.time()
        hard, used = usage.status(quota, objects, now)
        current = quota.status
        if {n: q.value for n, q in current.hard.items()} != hard or {
            n: q.value for n, q in current.used.items()
        } != used:
            updated = deepcopy(quota)  # never mutate the cache's object
            updated.status.Clear()
            for n, v in hard.items():
                updated.status.hard[n].value = v
            for n, v in used.items():
                updated.status.used[n].value = v
            try:
                await self.api.update_status(updated)
            except errors.Conflict:
                return Result(requeue_after=0.2)  # admission charged it meanwhile: recompute on the new one
            except errors.NotFound:
                return None
        release = usage.next_release(objects.get(("pods", ""), []), now)
        if release is not None and release - now < self.sync_period:
            return Result(requeue_after=max(release - now, 0.0) + 1.0)  # a stuck pod's charge runs out then
        return Result(requeue_after=self.sync_period)


def new_resourcequota(ctx: ControllerContext) -> ResourceQuotaController:
    return ResourceQuotaController(ctx)
