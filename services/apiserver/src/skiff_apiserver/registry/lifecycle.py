"""NamespaceLifecycle admission, as Kubernetes' plugin of that name: no object is created in a namespace
that does not exist (NOT_FOUND) or is being terminated (FAILED_PRECONDITION), except kinds whose strategy
allows it (Events, so controllers can still report while a namespace is emptied); and the namespaces
every cluster relies on (default, kube-system, kube-public) may not be deleted.

It runs inside the registry's create, not in front of one transport, so the gRPC API and the REST API
refuse the same creates. The namespace is read from the watch cache, falling back to etcd when the cache
has not seen it yet (a namespace created a moment ago).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.strategy import Strategy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache

# Kubernetes' immortalNamespaces.
IMMORTAL = ("default", "kube-system", "kube-public")


class NamespaceLifecycle:
    def __init__(self, client: EtcdClient, prefix: str, caches: dict[str, WatchCache]) -> None:
        self.client = client
        self.prefix = prefix
        self.caches = caches
        self.info = kinds.lookup_resource("namespaces")

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None:
        if not info.namespaced:
            return
        namespace = obj.metadata.namespace  # type: ignore[attr-defined]
        key = codec.object_key(self.prefix, self.info, "", namespace)
        cache = self.caches.get(self.info.resource)
        ns: Any = cache.get(key) if cache else None
        if ns is None:
            kv, _ = await self.client.get(key)
            if kv is None:
                raise errors.NotFound(f'namespaces "{namespace}" not found')
            ns = codec.decode(self.info, kv.value, kv.mod_revision)
        terminating = ns.metadata.HasField("deletion_timestamp") or ns.status.phase == "Terminating"
        if terminating and not strategy.create_in_terminating_namespace:
            raise errors.FailedPrecondition(
                f"unable to create new content in namespace {namespace} because it is being terminated"
            )

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None:
        pass

    def admit_delete(self, info: KindInfo, obj: Message) -> None:
        name = obj.metadata.name  # type: ignore[attr-defined]
        if info.resource == self.info.resource and name in IMMORTAL:
            raise errors.Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted')
