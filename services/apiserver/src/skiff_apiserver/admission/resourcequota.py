"""ResourceQuota admission, as Kubernetes' plugin of that name: the last check before a create is stored.

Every quota in the object's namespace that tracks it (skiff_common.quota.check) must have room for it;
otherwise the create is Forbidden with Kubernetes' text (``pods "x" is forbidden: exceeded quota:
mem-cpu-demo, requested: requests.memory=700Mi, used: requests.memory=600Mi, limited:
requests.memory=1Gi``). When there is room, the object's cost is charged to ``status.used`` before the
object is written, by a compare-and-swap on the quota's mod revision: two creates racing for the last
slot read the same usage, one swap wins and the loser re-reads the quota and is checked again, so both
cannot squeeze under the limit (Kubernetes' quota evaluator does the same with resourceVersion-guarded
updates). A create that fails after it was charged leaves usage too high until the resourcequota
controller recomputes it, as in Kubernetes; a dry run is checked but charges nothing.

It runs after defaulting, LimitRanger and validation (the registry's validating admission), so the
amounts charged are the ones stored. Quotas are read from the watch cache; a lost swap re-reads from etcd.
"""

from __future__ import annotations

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

    def _quotas(self, namespace: str) -> list[Any]:
        cache = self.caches.get(self.info.resource)
        return cache.list_objects(namespace, lambda _o: True) if cache else []

    async def validate_create(self, info: KindInfo, obj: Message, *, dry_run: bool = False) -> None:
        if not info.namespaced:
            return
        target: Any = obj
        # Every quota is checked before any is charged, so a refusal by one leaves the others untouched.
        plans = [(q, self._check(q, info, target)) for q in self._quotas(target.metadata.namespace)]
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
            key = codec.object_key(self.prefix, self.info, quota.metadata.namespace, quota.metadata.name)
            try:
                rv = int(quota.metadata.resource_version)
                await self.client.update(key, codec.encode(charged), rv, counter=True)
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
