"""ResourceQuota admission, as Kubernetes' plugin of that name: the last check before a create is stored.

Every quota in the object's namespace that tracks it (skiff_common.quota.check) must have room for it;
otherwise the create is Forbidden with Kubernetes' text (``pods "x" is forbidden: exceeded quota:
mem-cpu-demo, requested: requests.memory=700Mi, used: requests.memory=600Mi, limited:
requests.memory=1Gi``). When there is room, the object's cost is charged to ``status.used`` before the
object is written, by a compare-and-swap on the quota's mod revision: two creates racing for the last
slot read the same usage, one swap wins and the loser re-reads the quota and is checked again, so both
cannot squeeze under the limit (Kubernetes' quota evaluator does the same with resourceVersion-guarded
updates). Within one apiserver the creates of a namespace queue for its lock; the holder takes all that
wait as one batch, checks them in arrival order and writes each changed quota once (Kubernetes' evaluator
batches one namespace's queue the same way), so only other apiservers and the controller can make a swap
fail, and a lost swap re-checks the batch against the winner's usage. A create that fails after it was
charged (or a request refused by a second quota's re-check after a first quota was written) leaves usage
too high until the resourcequota controller recomputes it, as in Kubernetes; a dry run is checked but
charges nothing.

It runs after defaulting, LimitRanger and validation (the registry's validating admission), so the
amounts charged are the ones stored. Quotas are read from the watch cache, or from this apiserver's own
last write to them while the cache has not caught up; a lost swap re-reads from etcd.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
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
# Kubernetes' DefaultIgnoredResources: Events are never held to a quota (a namespace out of quota must still
# be able to report why).
IGNORED = frozenset({"events"})


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
        # Creates waiting for their namespace's lock: the holder checks and charges all of them with one
        # write per quota, as Kubernetes' evaluator batches a namespace's queue.
        self._pending: dict[str, list[_Request]] = {}

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
        if self._written:  # forget what we wrote to quotas deleted since
            prefix = codec.object_key(self.prefix, self.info, namespace, "")
            live = {self._key(q) for q in cached}
            for key in [k for k in self._written if k.startswith(prefix) and k not in live]:
                del self._written[key]
        return out

    def _key(self, quota: Any) -> bytes:
        return codec.object_key(self.prefix, self.info, quota.metadata.namespace, quota.metadata.name)

    async def validate_create(self, info: KindInfo, obj: Message, *, dry_run: bool = False) -> None:
        if not info.namespaced or info.resource in IGNORED:
            return
        target: Any = obj
        namespace = target.metadata.namespace
        if not self._quotas(namespace):
            return
        await self._queue(namespace, _Request(info, target, dry_run, asyncio.get_running_loop().create_future()))

    async def validate_update(self, info: KindInfo, new: Message, old: Message, *, dry_run: bool = False) -> None:
        """An update is charged what it adds (a Service turned LoadBalancer: services.loadbalancers and
        its node ports). Pods are left alone on update, as Kubernetes' pod evaluator leaves them (their
        resources cannot change), and so are Events."""
        if not info.namespaced or info.resource in IGNORED or (info.resource == "pods" and not info.group):
            return
        target: Any = new
        namespace = target.metadata.namespace
        if not self._quotas(namespace):
            return
        request = _Request(info, target, dry_run, asyncio.get_running_loop().create_future(), old)
        await self._queue(namespace, request)

    async def _queue(self, namespace: str, request: _Request) -> None:
        # A request whose create was cancelled while it waited is still settled; nobody reads that outcome.
        request.outcome.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._pending.setdefault(namespace, []).append(request)
        lock = self._locks.setdefault(namespace, asyncio.Lock())
        async with lock:
            batch = self._pending.pop(namespace, [])
            if batch:  # else an earlier holder of the lock took this request in its batch
                await self._admit(namespace, batch)
        await request.outcome

    async def _admit(self, namespace: str, batch: list[_Request]) -> None:
        """Check the batch in arrival order against the quotas as each predecessor left them, then write
        each changed quota once; every request's outcome is set, whatever happens."""
        try:
            states = {self._key(q): q for q in self._quotas(namespace)}
            charged: dict[bytes, list[_Request]] = {}
            admitted: list[_Request] = []
            for r in batch:
                try:
                    # Every quota is checked before any is charged: a refusal by one leaves the others alone.
                    plans = {key: self._check(q, r.info, r.obj, r.old) for key, q in states.items()}
                except errors.Forbidden as exc:
                    r.outcome.set_exception(exc)
                    continue
                admitted.append(r)
                if r.dry_run:
                    continue
                for key, used in plans.items():
                    if used is not None:
                        states[key] = _with_used(states[key], used)
                        charged.setdefault(key, []).append(r)
            for key, requests in charged.items():
                await self._write(key, states[key], requests)
            for r in admitted:
                if not r.outcome.done():
                    r.outcome.set_result(None)
        finally:
            for r in batch:  # cancelled or failed midway: the others must not wait forever
                if not r.outcome.done():
                    r.outcome.set_exception(_try_again(f'in the namespace "{namespace}"'))

    @staticmethod
    def _check(quota: Any, info: KindInfo, obj: Any, old: Any = None) -> dict[str, str] | None:
        try:
            return check.charge(quota, info.resource, info.group, obj, old=old)
        except check.QuotaExceeded as exc:
            resource = f"{info.resource}.{info.group}" if info.group else info.resource
            name = obj.metadata.name or obj.metadata.generate_name  # Kubernetes' NewForbidden names it so
            raise errors.Forbidden(f'{resource} "{name}" is forbidden: {exc}') from None

    async def _write(self, key: bytes, quota: Any, requests: list[_Request]) -> None:
        """Compare-and-swap the quota with the batch's charges; a lost swap re-reads it and checks the
        requests again, in order, against what is stored now (refusing those that no longer fit)."""
        for _ in range(RETRIES):
            try:
                rv = await self.client.update(
                    key, codec.encode(quota), int(quota.metadata.resource_version), counter=True
                )
                quota.metadata.resource_version = str(rv)
                self._written[key] = quota
                return
            except CompareFailed as exc:
                if exc.current is None:
                    return  # the quota was deleted meanwhile: nothing to charge
                quota = codec.decode(self.info, exc.current.value, exc.current.mod_revision)
            kept = []
            for r in requests:
                if r.outcome.done():
                    continue
                try:
                    used = self._check(quota, r.info, r.obj, r.old)
                except errors.Forbidden as refused:
                    r.outcome.set_exception(refused)
                    continue
                if used is not None:
                    quota = _with_used(quota, used)
                kept.append(r)
            requests = kept
            if not requests:
                return
        for r in requests:
            r.outcome.set_exception(_try_again(f'"{quota.metadata.name}"'))


@dataclass
class _Request:
    info: KindInfo
    obj: Any
    dry_run: bool
    outcome: asyncio.Future[None]
    old: Any = None  # an update: the object as stored before it


def _with_used(quota: Any, used: dict[str, str]) -> Any:
    out: Any = copy(quota)  # never the watch cache's object
    out.status.used.clear()
    for name, value in used.items():
        out.status.used[name].value = value
    return out


def _try_again(which: str) -> errors.Conflict:
    return errors.Conflict(
        f"Operation cannot be fulfilled on resourcequotas {which}: too many concurrent writers; please try again"
    )
