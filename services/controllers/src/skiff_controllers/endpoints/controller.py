"""Endpoints controller: keeps the Endpoints of every Service with a selector equal to its pods.

reconcile(ns/name)::

    service gone      -> delete the Endpoints of that name if we wrote it (label skip-mirror=true)
    no selector       -> leave alone: the user manages those Endpoints by hand
    otherwise         -> desired = addresses / notReadyAddresses from the selected pods (desired.py);
                         create, or update only when subsets or labels differ

Woken by Service events, by pods (before and after a change, so a relabelled pod leaves the old
Service) and by Endpoints events (a hand edit of a managed object is put back).
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import pod_pb2, service_pb2
from skiff_client import object_key
from skiff_client.controller import ControllerBuilder, Result, WorkLoop
from skiff_client.store import NAMESPACE_INDEX, split_key
from skiff_common import errors

from skiff_controllers.base import ControllerContext
from skiff_controllers.endpoints import desired
from skiff_controllers.endpoints import pods as podutil

NAME = "endpoints"
# Kubernetes marks the Endpoints its controller writes so that EndpointSlice mirroring skips them; we
# also use it to tell our Endpoints from hand-made ones.
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"


class EndpointsController:
    def __init__(self, ctx: ControllerContext, workers: int = 3) -> None:
        self.api = ctx.api
        self.services = ctx.factory.informer(service_pb2.Service)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        self.endpoints = ctx.factory.informer(service_pb2.Endpoints)
        self.loop: WorkLoop = (
            ControllerBuilder(NAME, ctx.factory)
            .for_(service_pb2.Service)
            .watches(service_pb2.Endpoints, lambda ep: [object_key(ep)])
            .workers(workers)
            .complete(self.reconcile)
        )
        podutil.watch_pods(self.pods, self.services, self.loop.enqueue)

    async def reconcile(self, key: str) -> Result | None:
        namespace, name = split_key(key)
        service = self.services.store.get(key)
        current = self.endpoints.store.get(key)
        if service is None:
            if current is not None and current.metadata.labels.get(SKIP_MIRROR_LABEL) == "true":
                try:
                    await self.api.delete(service_pb2.Endpoints, name, namespace)
                except errors.NotFound:
                    pass
            return None
        if not service.spec.selector:
            return None
        pods = self.pods.store.by_index(NAMESPACE_INDEX, namespace)
        want = desired.desired_endpoints(service, pods)
        want.metadata.labels[SKIP_MIRROR_LABEL] = "true"
        if not desired.needs_write(current, want):
            return None
        if current is None:
            await self.api.create(want)
        else:
            await self.api.update(_replace(current, want))
        return None


def _replace(current: Any, want: service_pb2.Endpoints) -> service_pb2.Endpoints:
    out = service_pb2.Endpoints()
    out.CopyFrom(current)
    del out.subsets[:]
    out.subsets.extend(want.subsets)
    out.metadata.labels.clear()
    out.metadata.labels.update(want.metadata.labels)
    return out


def new_endpoints(ctx: ControllerContext) -> EndpointsController:
    return EndpointsController(ctx)
