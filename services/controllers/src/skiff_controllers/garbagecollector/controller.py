"""Garbage collector: deletes dependents whose owners are gone, and carries out Foreground and Orphan
deletion, for every kind the apiserver serves.

Start-up discovers the served resources (ListResources), skips those the collector has no business
with (events, as in Kubernetes), and adds an informer for each to the shared factory; every informer
feeds one ownership graph (graph.py). Work items are object UIDs:

    object with ownerReferences added, or its refs changed   -> check its owners
    object deleted                                           -> check its dependents, wake its owners
    object being deleted with the ``orphan`` finalizer       -> orphan its dependents, drop finalizer
    object being deleted with ``foregroundDeletion``         -> delete dependents, drop finalizer when
                                                                no blocking dependent remains

Owners the graph does not know are looked up with a live read and compared by UID; a UID found absent
is remembered (Kubernetes' absentOwnerCache: UIDs are never reused), so the thousand dependents of one
deleted owner cost one read, not a thousand. Before acting on a
dependent the collector reads it live too, so a ref added a moment ago (adoption) is not overlooked, and
every delete carries a UID precondition. Finalizers and refs are changed by read-modify-update with the
object's resourceVersion, so a concurrent writer's change is never overwritten.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from google.protobuf.message import Message
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_client.controller import Result, WorkLoop
from skiff_common import errors
from skiff_common.apimachinery import kinds
from skiff_common.observability import get_logger

from skiff_controllers.base import ControllerContext
from skiff_controllers.garbagecollector.graph import (
    FOREGROUND,
    ORPHAN,
    Graph,
    OwnerState,
    Vertex,
    blocking,
    decide,
    state_of,
)

log = get_logger(__name__)

IGNORED_RESOURCES = frozenset({"events"})  # Kubernetes' GC ignores events too
NEEDED_VERBS = frozenset({"list", "watch", "delete"})
ABSENT_CACHE_SIZE = 10_000


def vertex_of(resource: str, obj: Any) -> Vertex:
    m = obj.metadata
    return Vertex(
        uid=m.uid,
        resource=resource,
        namespace=m.namespace,
        name=m.name,
        owners=tuple(m.owner_references),
        deleting=m.HasField("deletion_timestamp"),
        finalizers=tuple(m.finalizers),
    )


class GarbageCollector:
    name = "garbagecollector"

    def __init__(self, ctx: ControllerContext, workers: int = 2) -> None:
        self.ctx = ctx
        self.api = ctx.api
        # Its caches are known only after discovery: the loop waits on that instead of the factory.
        self.loop = WorkLoop(self.name, self.reconcile, workers=workers, wait_synced=self._discover)
        self.queue = self.loop.queue
        self.graph = Graph()
        self._absent: OrderedDict[str, None] = OrderedDict()  # owner UIDs confirmed gone, newest last
        self.resources: dict[tuple[str, str], pb.ApiResource] = {}  # (apiVersion, kind) -> resource
        self._type_meta: dict[str, tuple[str, str]] = {}  # resource -> (apiVersion, kind)
        self._informers: list[Any] = []

    # -- discovery -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.loop.run()

    async def _discover(self) -> None:
        delay = 0.5
        while True:
            try:
                served = await self.api.list_resources()
                break
            except errors.SkiffError as exc:
                log.warning("gc.discovery_failed", error=str(exc), delay=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        for res in served:
            self.resources[(res.api_version, res.kind)] = res
            self._type_meta[res.name] = (res.api_version, res.kind)
            if res.name in IGNORED_RESOURCES or not NEEDED_VERBS <= set(res.verbs):
                continue
            try:
                cls = kinds.lookup_resource(res.name).message
            except errors.NotFound:
                log.warning("gc.unknown_resource", resource=res.name)  # served, but this client has no type
                continue
            self._watch(res.name, cls)
        self.ctx.factory.start()
        await asyncio.gather(*(inf.wait_synced() for inf in self._informers))
        log.info("gc.synced", resources=len(self._informers), objects=len(self.graph.vertices))

    def _watch(self, resource: str, cls: type[Message]) -> None:
        inf = self.ctx.factory.informer(cls)
        upsert = self._upserter(resource)
        inf.add_handler(
            on_add=upsert,
            on_update=lambda _old, new: upsert(new),
            on_delete=self._on_delete,
        )
        self._informers.append(inf)

    # -- graph maintenance (handlers: update the graph, enqueue UIDs) --------------------------------------
    def _upserter(self, resource: str) -> Callable[[Any], None]:
        def upsert(obj: Any) -> None:
            v = vertex_of(resource, obj)
            old = self.graph.upsert(v)
            if v.owners and (old is None or old.owners != v.owners):
                self.queue.add(v.uid)
            if v.deleting and (ORPHAN in v.finalizers or FOREGROUND in v.finalizers):
                self.queue.add(v.uid)

        return upsert

    def _on_delete(self, obj: Any) -> None:
        uid = obj.metadata.uid
        gone = self.graph.remove(uid)
        for dep in self.graph.dependents(uid):
            self.queue.add(dep.uid)
        if gone is not None:
            for owner in gone.owner_uids():
                if owner in self.graph.vertices:
                    self.queue.add(owner)  # may be waiting on this dependent (foreground)

    # -- reconcile -----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        v = self.graph.vertices.get(key)
        if v is None:
            return None
        if v.deleting:
            if ORPHAN in v.finalizers:
                await self._orphan_dependents(v)
                return None
            if FOREGROUND in v.finalizers:
                return await self._delete_dependents(v)
            return None
        if v.owners:
            await self._attempt_to_delete(v)
        return None

    async def _owner_states(self, item: Vertex) -> dict[str, OwnerState]:
        states: dict[str, OwnerState] = {}
        for ref in item.owners:
            known = self.graph.vertices.get(ref.uid)
            if known is not None and known.namespace in ("", item.namespace):
                states[ref.uid] = state_of(known)
            else:  # not seen yet, or seen in another namespace (a ref never crosses namespaces)
                states[ref.uid] = await self._lookup_owner(item, ref)
                if known is not None and states[ref.uid] == OwnerState.ABSENT:
                    self._invalid_namespace(item, ref)
        return states

    def _invalid_namespace(self, item: Vertex, ref: Any) -> None:
        """Kubernetes' OwnerRefInvalidNamespace warning, on the dependent."""
        api_version, kind = self._type_meta.get(item.resource, ("", ""))
        dependent = SimpleNamespace(
            api_version=api_version,
            kind=kind,
            metadata=SimpleNamespace(namespace=item.namespace, name=item.name, uid=item.uid, resource_version=""),
        )
        self.ctx.events.record(
            dependent,
            "Warning",
            "OwnerRefInvalidNamespace",
            f"ownerRef [{ref.api_version}/{ref.kind}, namespace: {item.namespace}, name: {ref.name}, "
            f"uid: {ref.uid}] does not exist in namespace {item.namespace!r}",
        )

    async def _lookup_owner(self, item: Vertex, ref: Any) -> OwnerState:
        res = self.resources.get((ref.api_version, ref.kind))
        if res is None:
            log.warning("gc.unknown_owner_kind", item=item.name, api_version=ref.api_version, kind=ref.kind)
            return OwnerState.SOLID  # never delete on a kind we cannot check
        if res.namespaced and not item.namespace:
            return OwnerState.ABSENT  # a cluster-scoped object cannot have a namespaced owner
        # Keyed by where it was looked for too: a ref naming an owner in another namespace is absent
        # here without saying anything about the owner's own namespace.
        key = f"{item.namespace if res.namespaced else ''}/{ref.uid}"
        if key in self._absent:
            return OwnerState.ABSENT
        state = await self._read_owner(item, ref, res)
        if state == OwnerState.ABSENT:
            self._absent[key] = None
            if len(self._absent) > ABSENT_CACHE_SIZE:
                self._absent.popitem(last=False)
        return state

    async def _read_owner(self, item: Vertex, ref: Any, res: pb.ApiResource) -> OwnerState:
        try:
            owner = await self.api.get(res.name, ref.name, item.namespace if res.namespaced else "")
        except errors.NotFound:
            return OwnerState.ABSENT
        if owner.metadata.uid != ref.uid:
            return OwnerState.ABSENT  # same name, another object: the owner we knew is gone
        return state_of(vertex_of(res.name, owner))

    async def _attempt_to_delete(self, cached: Vertex) -> None:
        states = await self._owner_states(cached)
        if all(s == OwnerState.SOLID for s in states.values()):
            return  # nothing to do: no live read needed
        try:
            latest = await self.api.get(cached.resource, cached.name, cached.namespace)
        except errors.NotFound:
            return
        if latest.metadata.uid != cached.uid or latest.metadata.HasField("deletion_timestamp"):
            return
        item = vertex_of(cached.resource, latest)
        if item.owners != cached.owners:
            states = await self._owner_states(item)
        decision = decide(item, states, self.graph.has_dependents(item.uid))
        if decision.remove_refs:
            drop = set(decision.remove_refs)
            await self._update_meta(item, lambda m: _keep_refs(m, lambda r: r.uid not in drop))
            log.info("gc.refs_removed", resource=item.resource, name=item.name, owners=sorted(drop))
        if decision.delete is not None:
            log.info(
                "gc.delete", resource=item.resource, namespace=item.namespace, name=item.name, policy=decision.delete
            )
            try:
                await self.api.delete(
                    item.resource,
                    item.name,
                    item.namespace,
                    propagation_policy=decision.delete,
                    preconditions_uid=item.uid,
                )
            except (errors.NotFound, errors.FailedPrecondition):
                pass  # already gone, or replaced by a new object of that name

    async def _orphan_dependents(self, owner: Vertex) -> None:
        for dep in self.graph.dependents(owner.uid):
            await self._update_meta(dep, lambda m: _keep_refs(m, lambda r: r.uid != owner.uid))
        await self._update_meta(owner, lambda m: _drop_finalizer(m, ORPHAN))
        log.info("gc.orphaned", resource=owner.resource, name=owner.name)

    async def _delete_dependents(self, owner: Vertex) -> Result | None:
        deps = self.graph.dependents(owner.uid)
        if not blocking(owner.uid, deps):
            await self._update_meta(owner, lambda m: _drop_finalizer(m, FOREGROUND))
            log.info("gc.foreground_done", resource=owner.resource, name=owner.name)
            return None
        for dep in deps:
            if not dep.deleting:
                self.queue.add(dep.uid)  # its owner is now "waiting": the check deletes it
        # Each dependent's removal wakes this owner again; the requeue only guards against a missed one.
        return Result(requeue_after=10.0)

    async def _update_meta(self, v: Vertex, mutate: Callable[[Any], bool]) -> None:
        """Read-modify-update of one object's metadata, guarded by resourceVersion; retried on Conflict."""
        for _ in range(5):
            try:
                obj = await self.api.get(v.resource, v.name, v.namespace)
            except errors.NotFound:
                return
            if obj.metadata.uid != v.uid or not mutate(obj.metadata):
                return
            try:
                await self.api.update(obj)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                continue
        raise errors.Conflict(f"{v.resource} {v.namespace}/{v.name}: kept conflicting")


def _keep_refs(meta: Any, keep: Callable[[Any], bool]) -> bool:
    refs = [r for r in meta.owner_references if keep(r)]
    if len(refs) == len(meta.owner_references):
        return False
    del meta.owner_references[:]
    meta.owner_references.extend(refs)
    return True


def _drop_finalizer(meta: Any, name: str) -> bool:
    if name not in meta.finalizers:
        return False
    kept = [f for f in meta.finalizers if f != name]
    del meta.finalizers[:]
    meta.finalizers.extend(kept)
    return True
