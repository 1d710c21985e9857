"""Registry: the one facade the gRPC handlers call (store + reads + delete + patch + subresources)."""

from __future__ import annotations

from google.protobuf import any_pb2
from google.protobuf.message import Message
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2

from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry import patch as patching
from skiff_apiserver.registry import subresources
from skiff_apiserver.registry.delete import Deleter
from skiff_apiserver.registry.reads import ListOptions, Reads
from skiff_apiserver.registry.store import Store
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.watch_cache import WatchCache


class Registry:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = Reads(store)
        self.deleter = Deleter(store)

    @property
    def caches(self) -> dict[str, WatchCache]:
        return self.store.caches

    async def create(self, obj: Message, *, dry_run: bool = False) -> Message:
        return await self.store.create(obj, dry_run=dry_run)

    async def create_packed(self, obj: Message, *, dry_run: bool = False) -> any_pb2.Any:
        """Create from a decoded request (`obj` is consumed) and return the response's Any, reusing the
        bytes written to etcd (the hot path of Create: one encode, no copy)."""
        created, data = await self.store.create_encoded(obj, dry_run=dry_run, owned=True)
        return codec.pack_stored(created, data)

    async def get(self, info: KindInfo, namespace: str, name: str, resource_version: str = "") -> Message:
        return await self.reads.get(info, namespace, name, resource_version)

    async def list(self, info: KindInfo, opts: ListOptions) -> tuple[list[Message], meta_pb2.ListMeta]:
        return await self.reads.list_objects(info, opts)

    async def update(
        self, obj: Message, *, status: bool = False, dry_run: bool = False, subresource: str = ""
    ) -> Message:
        """Update; `subresource` "status" (= status=True) or "finalize" (namespaces: spec.finalizers only)."""
        return await self.store.update(obj, status=status, dry_run=dry_run, subresource=subresource)

    async def patch(
        self,
        info: KindInfo,
        namespace: str,
        name: str,
        patch_type: str,
        raw: bytes,
        *,
        subresource: str = "",
        dry_run: bool = False,
    ) -> Message:
        return await patching.patch(self.store, info, namespace, name, patch_type, raw, subresource, dry_run)

    async def delete(self, info: KindInfo, namespace: str, name: str, **options: object) -> Message:
        return await self.deleter.delete(info, namespace, name, **options)  # type: ignore[arg-type]

    async def bind(self, binding: pod_pb2.Binding) -> Message:
        return await subresources.bind(self.store, binding)

    async def get_scale(self, resource: str, namespace: str, name: str) -> scale_pb2.Scale:
        return await subresources.get_scale(self.store, resource, namespace, name)

    async def update_scale(self, resource: str, scale: scale_pb2.Scale) -> scale_pb2.Scale:
        return await subresources.update_scale(self.store, resource, scale)
