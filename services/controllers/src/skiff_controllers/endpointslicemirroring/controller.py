"""EndpointSliceMirroring controller: slices for the hand-made Endpoints of Services without a selector.

reconcile(ns/name)::

    mirror? (Service exists, has no selector, Endpoints exists and is not marked skip-mirror)
      no  -> delete the slices we mirrored for it
      yes -> desired.plan_slices(mirror.wanted_endpoints(endpoints), our slices): create/update/delete,
             nothing when nothing changed

Woken by Service and Endpoints events (both keyed ns/name) and by changes to our slices.
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client.controller import ControllerBuilder, Result, WorkLoop
from skiff_client.store import object_key, split_key

from skiff_controllers.base import ControllerContext
from skiff_controllers.endpointslice import desired
from skiff_controllers.endpointslice.controller import STALE_CACHE_RETRY, execute
from skiff_controllers.endpointslice.tracker import WriteTracker
from skiff_controllers.endpointslicemirroring import mirror

NAME = "endpointslicemirroring"
SERVICE_INDEX = "mirroredServiceName"


def _service_index(s: Any) -> list[str]:
    owner = s.metadata.labels.get(desired.SERVICE_NAME_LABEL)
    if owner and s.metadata.labels.get(desired.MANAGED_BY_LABEL) == mirror.CONTROLLER_NAME:
        return [f"{s.metadata.namespace}/{owner}"]
    return []


class EndpointSliceMirroringController:
    def __init__(self, ctx: ControllerContext, workers: int = 2) -> None:
        self.api = ctx.api
        self.services = ctx.factory.informer(service_pb2.Service)
        self.endpoints = ctx.factory.informer(service_pb2.Endpoints)
        self.slices = ctx.factory.informer(es.EndpointSlice)
        self.slices.add_indexer(SERVICE_INDEX, _service_index)
        self.tracker = WriteTracker()
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(service_pb2.Endpoints)
            .watches(service_pb2.Service, lambda svc: [object_key(svc)])
            .watches(es.EndpointSlice, _service_index)
            .workers(workers)
            .complete(self.reconcile)
        )

    async def reconcile(self, key: str) -> Result | None:
        namespace, _ = split_key(key)
        if not self.tracker.cache_is_fresh(key, self.slices.store, namespace):
            return Result(requeue_after=STALE_CACHE_RETRY)
        service = self.services.store.get(key)
        endpoints = self.endpoints.store.get(key)
        ours = self.slices.store.by_index(SERVICE_INDEX, key)
        if not mirror.should_mirror(service, endpoints):
            plan = desired.Plan(delete=[s.metadata.name for s in ours])
        else:
            meta = mirror.slice_meta(endpoints)
            plan = desired.plan_slices(service, mirror.wanted_endpoints(endpoints), ours, meta, placeholder=False)
        await execute(self.api, plan, key, namespace, self.tracker)
        return None


def new_endpointslicemirroring(ctx: ControllerContext) -> EndpointSliceMirroringController:
    return EndpointSliceMirroringController(ctx)
