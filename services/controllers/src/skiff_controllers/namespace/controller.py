"""Namespace controller: empties a Terminating namespace, then drops the "kubernetes" finalizer.

For every namespaced kind in the registry it deletes what is left (pods gracefully, so kubelets stop
their containers first) and requeues until nothing is left; then it removes the finalizer with an
Update. The Skiff apiserver also runs an in-process namespace finalizer (and guards spec.finalizers on
plain updates); both are idempotent, so whichever gets there first completes the deletion and the
other finds nothing to do.
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import namespace_pb2
from skiff_client import object_key
from skiff_common import errors
from skiff_common.apimachinery import kinds

from skiff_controllers.base import Controller, ControllerContext, Result

FINALIZER = "kubernetes"
RECHECK_SECONDS = 2.0


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.namespaces = ctx.factory.informer(namespace_pb2.Namespace)
        self.namespaces.add_handler(on_add=self._enqueue, on_update=lambda _o, n: self._enqueue(n))

    def _enqueue(self, ns: namespace_pb2.Namespace) -> None:
        if ns.metadata.HasField("deletion_timestamp"):
            self.queue.add(object_key(ns))

    async def reconcile(self, key: str) -> Result | None:
        ns = self.namespaces.store.get(key)
        if ns is None or not ns.metadata.HasField("deletion_timestamp"):
            return None
        remaining = await self.delete_contents(ns.metadata.name)
        if remaining:
            return Result(requeue_after=RECHECK_SECONDS)
        if FINALIZER not in ns.spec.finalizers:
            return None
        fresh = await self.api.get(namespace_pb2.Namespace, ns.metadata.name)
        if FINALIZER in fresh.spec.finalizers:
            fresh.spec.finalizers[:] = [f for f in fresh.spec.finalizers if f != FINALIZER]
            try:
                await self.api.update(fresh)
            except errors.NotFound:
                return None
        return Result(requeue_after=RECHECK_SECONDS)  # confirm it is gone (informer drops the key)

    async def delete_contents(self, namespace: str) -> int:
        remaining = 0
        for info in kinds.ALL_KINDS:
            if not info.namespaced:
                continue
            try:
                objs = (await self.api.list_all(info.resource, namespace)).items
            except errors.NotFound:
                continue  # resource not served by this apiserver
            for obj in objs:
                o: Any = obj
                remaining += 1
                if o.metadata.HasField("deletion_timestamp"):
                    continue
                try:
                    await self.api.delete(info.resource, o.metadata.name, namespace)
                except errors.NotFound:
                    pass
        return remaining
