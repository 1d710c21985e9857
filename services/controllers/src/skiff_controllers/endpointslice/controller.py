"""EndpointSlice controller: the slices of every Service with a selector follow its pods.

reconcile(ns/name)::

    service gone / ExternalName -> delete the slices we manage for it (the owner reference also lets the
                                   garbage collector do this; not waiting for it keeps DNS and the proxy
                                   from serving a deleted Service)
    no selector                 -> leave alone (hand-made slices)
    otherwise                   -> desired.plan(service, pods, our slices): create / update / delete,
                                   nothing when nothing changed

Our slices are found through an index on the ``kubernetes.io/service-name`` label, filtered by
``endpointslice.kubernetes.io/managed-by``. After writing, the controller remembers the resource
version of each slice it wrote and waits (requeue) until the informer has caught up, so a stale cache
never makes it create a second slice for the same endpoints (tracker.py).
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import pod_pb2, service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client.controller import ControllerBuilder, Result, WorkLoop
from skiff_client.store import NAMESPACE_INDEX, split_key
from skiff_common import errors

from skiff_controllers.base import ControllerContext
from skiff_controllers.endpoints import pods as podutil
from skiff_controllers.endpointslice import desired
from skiff_controllers.endpointslice.tracker import WriteTracker

NAME = "endpointslice"
SERVICE_INDEX = "serviceName"
STALE_CACHE_RETRY = 0.1


def _service_index(s: Any) -> list[str]:
    owner = s.metadata.labels.get(desired.SERVICE_NAME_LABEL)
    return [f"{s.metadata.namespace}/{owner}"] if owner else []


class EndpointSliceController:
    def __init__(self, ctx: ControllerContext, workers: int = 3) -> None:
        self.api = ctx.api
        self.services = ctx.factory.informer(service_pb2.Service)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.slices = ctx.factory.informer(es.EndpointSlice)
        self.slices.add_indexer(SERVICE_INDEX, _service_index)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(service_pb2.Service)
            .watches(es.EndpointSlice, _service_index)
            .workers(workers)
            .complete(self.reconcile)
        )
        podutil.watch_pods(self.pods, self.services, self.loop.enqueue)
        self.tracker = WriteTracker()

    def _ours(self, key: str) -> list[es.EndpointSlice]:
        return [
            s
            for s in self.slices.store.by_index(SERVICE_INDEX, key)
            if s.metadata.labels.get(desired.MANAGED_BY_LABEL) == desired.CONTROLLER_NAME
        ]

    async def reconcile(self, key: str) -> Result | None:
        namespace, _ = split_key(key)
        if not self.tracker.cache_is_fresh(key, self.slices.store, namespace):
            return Result(requeue_after=STALE_CACHE_RETRY)
        service = self.services.store.get(key)
        ours = self._ours(key)
        if service is None or service.spec.type == "ExternalName":
            plan = desired.Plan(delete=[s.metadata.name for s in ours])
        elif not service.spec.selector:
            return None
        else:
            plan = desired.plan(service, self.pods.store.by_index(NAMESPACE_INDEX, namespace), ours)
        await execute(self.api, plan, key, namespace, self.tracker)
        return None


async def execute(api: Any, plan: desired.Plan, key: str, namespace: str, tracker: WriteTracker) -> None:
    """Write a plan, deletes first (they free room), recording every write in the tracker."""
    for name in plan.delete:
        try:
            await api.delete(es.EndpointSlice, name, namespace)
        except errors.NotFound:
            pass
        tracker.deleted(key, name)
    for s in plan.update:
        tracker.wrote(key, await api.update(s))
    for s in plan.create:
        tracker.wrote(key, await api.create(s))


def new_endpointslice(ctx: ControllerContext) -> EndpointSliceController:
    return EndpointSliceController(ctx)
