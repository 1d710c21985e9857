"""The namespace finalizer: empties a Terminating namespace, then lets it go.

Kubernetes runs this in the controller manager; here the apiserver owns it because it is the only
component with every resource's cache at hand and it must work even in a cluster without controllers.
It is level-triggered: every pass looks at every terminating namespace (from the namespace cache),
deletes what is left in it (pods gracefully, so their kubelets stop them first), and once nothing is left
removes the "kubernetes" spec finalizer, which completes the namespace's deletion. Several apiserver
replicas may run it at once: every step is an idempotent, conditional write.
"""

from __future__ import annotations

import asyncio

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.logs import log
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.strategies.namespace import FINALIZER
from skiff_apiserver.registry.strategy import copy


class NamespaceFinalizer:
    def __init__(self, registry: Registry, interval: float = 1.0) -> None:
        self.registry = registry
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="namespace-finalizer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while True:
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("namespace_finalizer_failed", error=str(exc))
            await asyncio.sleep(self.interval)

    async def pass_once(self) -> None:
        ns_cache = self.registry.caches["namespaces"]
        for ns in list(ns_cache.objects.values()):
            if ns.metadata.HasField("deletion_timestamp") and FINALIZER in ns.spec.finalizers:  # type: ignore[attr-defined]
                await self._finalize(ns.metadata.name)  # type: ignore[attr-defined]

    async def _finalize(self, namespace: str) -> None:
        remaining = 0
        for info in kinds.ALL_KINDS:
            if not info.namespaced:
                continue
            for obj in self.registry.caches[info.resource].list_objects(namespace, lambda _o: True):
                remaining += 1
                if obj.metadata.HasField("deletion_timestamp"):  # type: ignore[attr-defined]
                    continue
                try:
                    await self.registry.delete(info, namespace, obj.metadata.name)  # type: ignore[attr-defined]
                except errors.NotFound:
                    pass
        if remaining:
            return
        info = kinds.lookup_resource("namespaces")

        def drop_finalizer(ns: Message) -> Message:
            new = copy(ns)
            new.spec.finalizers[:] = [f for f in new.spec.finalizers if f != FINALIZER]  # type: ignore[attr-defined]
            return new

        try:
            await self.registry.store.guaranteed_update(
                info,
                "",
                namespace,
                drop_finalizer,
                system=True,  # type: ignore[arg-type]
                validate=False,
            )
            log.info("namespace_finalized", namespace=namespace)
        except errors.NotFound:
            pass
