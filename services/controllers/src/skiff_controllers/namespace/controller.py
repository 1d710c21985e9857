"""Namespace controller: the one owner of namespace finalization, as in kube-controller-manager.

Deleting a namespace only marks it Terminating in the apiserver (which then refuses creates in it and
keeps it while spec.finalizers holds "kubernetes"). This controller empties it: it discovers every
namespaced resource the apiserver serves (ListResources, as Kubernetes' discovery-driven
NamespacedResourcesDeleter does, so a new kind needs no change here), deletes what is left in the
namespace (pods gracefully, so their kubelets stop them first) and requeues until nothing is left; then
it takes "kubernetes" off spec.finalizers through the `finalize` subresource, and the apiserver removes
the namespace. Level-triggered: a restart finds Terminating namespaces in the informer's initial list.
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import namespace_pb2
from skiff_client import object_key
from skiff_common import errors

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
        if FINALIZER not in ns.spec.finalizers:
            return None  # not ours to finalize (or done): the apiserver removes it when the list empties
        remaining = await self.delete_contents(ns.metadata.name)
        if remaining:
            return Result(requeue_after=RECHECK_SECONDS)
        try:
            fresh = await self.api.get(namespace_pb2.Namespace, ns.metadata.name)
            if FINALIZER in fresh.spec.finalizers:
                keep = [f for f in fresh.spec.finalizers if f != FINALIZER]
                del fresh.spec.finalizers[:]
                fresh.spec.finalizers.extend(keep)
                # PUT namespaces/{name}/finalize (verb update), at the resourceVersion just read
                await self.api.update_status(fresh, subresource="finalize")
        except errors.NotFound:
            return None
        return None

    async def namespaced_resources(self) -> list[str]:
        """Every namespaced resource the apiserver serves that can be listed and deleted."""
        return [r.name for r in await self.api.list_resources() if r.namespaced and {"list", "delete"} <= set(r.verbs)]

    async def delete_contents(self, namespace: str) -> int:
        """Delete what is left in `namespace`; returns how many objects were still there."""
        remaining = 0
        for resource in await self.namespaced_resources():
            try:
                objs: list[Any] = (await self.api.list_all(resource, namespace)).items
            except errors.NotFound:
                continue  # served a moment ago, not any more
            for obj in objs:
                o: Any = obj
                remaining += 1
                if o.metadata.HasField("deletion_timestamp"):
                    continue
                try:
                    await self.api.delete(resource, o.metadata.name, namespace)
                except errors.NotFound:
                    pass
        return remaining
