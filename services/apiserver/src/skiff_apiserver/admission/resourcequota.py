"""ResourceQuota admission, as Kubernetes' plugin of that name: the last check before a create is stored.

Every quota in the object's namespace that tracks it (skiff_common.quota.check) must have room for it;
otherwise the create is Forbidden with Kubernetes' text (``pods "x" is forbidden: exceeded quota:
mem-cpu-demo, requested: requests.memory=700Mi, used: requests.memory=600Mi, limited:
requests.memory=1Gi``). When there is room, the object's cost is charged to ``status.used`` before the
object is written, by a compare-and-swap on the quota's mod revision: two creates racing for the last
slot read the same usage, one swap wins and the loser re-reads the quota and is checked again, so both
cannot squeeze under the limit (Kubernetes' quota evaluator does the same with resourceVersion-guarded
updates). Within one apiserver the creates of a namespace are checked and charged one at a time (a lock per
namespace, as Kubernetes' evaluator works one namespace's queue at a time), so only other apiservers and
the controller can make a swap fail. A create that fails after it was charged leaves usage too high until
the resourcequota controller recomputes it, as in Kubernetes; a dry run is checked but charges nothing.

It runs after defaulting, LimitRanger and validation (the registry's validating admission), so the
amounts charged are the ones stored. Quotas are read from the watch cache, or from this apiserver's own
last write to them while the cache has not caught up; a lost swap re-reads from etcd.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from google.protobuf.message import Message
from skiff_common import errors
from skiff_common.quota import check

from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.strategy import copy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache

RETRIES = 20


class ResourceQuotaAdmission:
    def __init__(self, client: EtcdClient, prefix: str, caches: dict[str, WatchCache]) -> None:
        self.client = client
        self.prefix = prefix
        self.caches = caches
        self.info = kinds.lookup_resource("resourcequotas")
        # One charge at a time per namespace in this apiserver, as Kubernetes' quota evaluator works one
        # namespace's queue at a time: concurrent creates then never race each other for the quota key
        # (only other apiservers and the controller can, and the compare-and-swap settles those).
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # The quotas this apiserver wrote last, until the watch cache has them: the next create in the
        # namespace starts from them instead of losing a swap against its own predecessor.
        self._written: dict[bytes, Any] = {}

    def _quotas(self, namespace: str) -> list[Any]:
        cache = self.caches.get(self.info.resource)
        cached: list[Any] = cache.list_objects(namespace, lambda _o: True) if cache else []
        out = []
        for quota in cached:
            key = self._key(quota)
            mine = self._written.get(key)
            if mine is not None and int(mine.metadata.resource_version) > int(quota.metadata.resource_version):
                out.append(mine)
            else:
                self._written.pop(key, None)  # the cache has caught up (or the quota moved on without us)
                out.append(quota)
        return out

    def _key(self, quota: Any) -> bytes:
        return codec.object_key(self.prefix, self.info, quota.metadata.namespace, quota.metadata.name)

    async def validate_create(self, info: KindInfo, obj: Message, *, dry_run: bool = False) -> None:
        if not info.namespaced:
            return
        target: Any = obj
        namespace = target.metadata.namespace
        if not self._quotas(namespace):
            return
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        async with lock:
            # Every quota is checked before any is charged, so a refusal by one leaves the others untouched.
            plans = [(q, self._check(q, info, target)) for q in self._quotas(namespace)]
            if dry_run:
                return
            for quota, used in plans:
                if used is not None:
                    await self._charge(quota, used, info, target)

    @staticmethod
    def _check(quota: Any, info: KindInfo, obj: Any) -> dict[str, str] | None:
        try:
            return check.charge(quota, info.resource, info.group, obj)
        except check.QuotaExceeded as exc:
            resource = f"{info.resource}.{info.group}" if info.group else info.resource
            raise errors.Forbidden(f'{resource} "{obj.metadata.name}" is forbidden: {exc}') from None

    async def _charge(self, quota: Any, used: dict[str, str] | None, info: KindInfo, obj: Any) -> None:
        """Compare-and-swap the new usage; a lost swap re-reads the quota and checks the object again."""
        for _ in range(RETRIES):
            if used is None:
                return
            charged: Any = copy(quota)
            charged.status.used.clear()
            for name, value in used.items():
                charged.status.used[name].value = value
            key = self._key(quota)
            try:
                rv = await self.client.update(
                    key, codec.encode(charged), int(quota.metadata.resource_version), counter=True
                )
                charged.metadata.resource_version = str(rv)
                self._written[key] = charged
                return
            except CompareFailed as exc:
                if exc.current is None:
                    return  # the quota was deleted meanwhile: nothing to charge
                quota = codec.decode(self.info, exc.current.value, exc.current.mod_revision)
            used = self._check(quota, info, obj)
        raise errors.Conflict(
            f'Operation cannot be fulfilled on resourcequotas "{quota.metadata.name}": too many concurrent '
            "creates; please try again"
        )
