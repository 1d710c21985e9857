"""The generic registry: Create, Get, List, Update and UpdateStatus for every kind.

Every write is one etcd transaction (storage/etcd.py): create compares create_revision == 0 (so a
duplicate name is ALREADY_EXISTS, never an overwrite), update compares the mod_revision that was read. An
update that names a resourceVersion fails with Conflict (ABORTED) if it is stale; one that names none is
retried against the latest object (`guaranteed_update`), like Kubernetes' GuaranteedUpdate. Deletion and
the namespace lifecycle live in delete.py; reads and pagination in reads.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.admission.mutating import admit_create
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.ipalloc import ClusterIPAllocator
from skiff_apiserver.registry.objects import check_size, conflict, meta, not_found, random_suffix
from skiff_apiserver.registry.strategies import strategy_for
from skiff_apiserver.registry.strategy import Strategy, copy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient
from skiff_apiserver.storage.leases import LeaseManager
from skiff_apiserver.storage.watch_cache import WatchCache

# kube-node-lease holds the kubelets' heartbeat Leases, as in Kubernetes.
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Store:
    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        caches: dict[str, WatchCache],
        *,
        event_ttl: int = 3600,
        service_cidr: str = "",
    ) -> None:
        self.client = client
        # Events expire like in Kubernetes (--event-ttl); 0 keeps them forever.
        self.event_leases = LeaseManager(client, event_ttl, window=min(60, event_ttl)) if event_ttl > 0 else None
        self.prefix = prefix
        self.caches = caches
        self.cluster_ips: ClusterIPAllocator | None = (
            ClusterIPAllocator(client, prefix, service_cidr) if service_cidr else None
        )
        self.strategies: dict[str, Strategy] = {i.resource: strategy_for(i) for i in kinds.ALL_KINDS}

    def key(self, info: KindInfo, namespace: str, name: str) -> bytes:
        return codec.object_key(self.prefix, info, namespace, name)

    # -- create --------------------------------------------------------------------------------------
    async def create(self, obj: Message, *, dry_run: bool = False) -> Message:
        created, _ = await self.create_encoded(obj, dry_run=dry_run)
        return created

    async def create_encoded(
        self, obj: Message, *, dry_run: bool = False, owned: bool = False
    ) -> tuple[Message, bytes]:
        """Create; returns the stored object and the exact bytes written to etcd (no resourceVersion),
        so the API layer can answer without serializing the object a second time (see codec.pack_stored).
        `owned`: the caller hands `obj` over (a freshly decoded request), so it is not copied first."""
        info = kinds.kind_of(obj)
        strategy = self.strategies[info.resource]
        if not owned:
            obj = copy(obj)
        kinds.set_type_meta(obj)
        m = meta(obj)
        if info.namespaced:
            m.namespace = m.namespace or "default"  # type: ignore[attr-defined]
            if info.kind != "Namespace":
                await self.check_namespace(m.namespace, info)  # type: ignore[attr-defined]
        else:
            m.namespace = ""  # type: ignore[attr-defined]
        generated = not m.name and bool(m.generate_name)  # type: ignore[attr-defined]
        for attempt in range(5):
            if generated:
                m.name = m.generate_name + random_suffix()  # type: ignore[attr-defined]
            self._prepare_create(obj, strategy)
            data = codec.encode(obj)
            check_size(info, m.name, data)  # type: ignore[attr-defined]
            if dry_run:
                return obj, data
            allocated = await self._allocate(obj)
            if allocated:
                data = codec.encode(obj)
            try:
                lease = 0
                if self.event_leases is not None and info.kind == "Event":
                    lease = await self.event_leases.lease_id()
                rev = await self.client.create(self.key(info, m.namespace, m.name), data, lease=lease)
            except BaseException as exc:
                if allocated:
                    await self.released(obj)  # do not leak the IP of a Service that was never stored
                if not isinstance(exc, CompareFailed):
                    raise
                if generated and attempt < 4:
                    continue  # a generated name collided: draw another one
                raise errors.AlreadyExists(f'{info.resource} "{m.name}" already exists') from None  # type: ignore[attr-defined]
            m.resource_version = str(rev)  # type: ignore[attr-defined]
            return obj, data
        raise AssertionError("unreachable")

    async def _allocate(self, obj: Message) -> bool:
        """Services of a type that needs one get a cluster IP (see ipalloc.py); True if one was taken."""
        if self.cluster_ips is None or obj.DESCRIPTOR.name != "Service":
            return False
        spec = obj.spec  # type: ignore[attr-defined]
        if spec.type == "ExternalName" or spec.cluster_ip == "None":
            return False
        m = meta(obj)
        spec.cluster_ip = await self.cluster_ips.allocate(f"{m.namespace}/{m.name}", spec.cluster_ip)
        spec.cluster_ips[:] = [spec.cluster_ip]
        return True

    async def released(self, obj: Message) -> None:
        """Give back what an object held outside its own key (a Service's cluster IP) once it is gone."""
        if self.cluster_ips is not None and obj.DESCRIPTOR.name == "Service":
            await self.cluster_ips.release(obj.spec.cluster_ip)  # type: ignore[attr-defined]

    def _prepare_create(self, obj: Message, strategy: Strategy) -> None:
        m = meta(obj)
        m.uid = str(uuid.uuid4())  # type: ignore[attr-defined]
        ts = m.creation_timestamp  # type: ignore[attr-defined]
        ts.seconds, ts.nanos = int(time.time()), 0  # what CopyFrom(now()) sets, without a temporary
        m.generation = 1  # type: ignore[attr-defined]
        m.resource_version = ""  # type: ignore[attr-defined]
        for f in ("deletion_timestamp", "deletion_grace_period_seconds"):
            m.ClearField(f)  # type: ignore[arg-type]
        strategy.prepare_for_create(obj)
        strategy.default(obj)
        admit_create(strategy.info.kind, obj)
        self.validate(obj, strategy, strategy.validate(obj))

    def validate(self, obj: Message, strategy: Strategy, kind_errors: list[errors.FieldError]) -> None:
        errs = strategy.validate_meta(obj) + kind_errors
        if errs:
            raise errors.Invalid(f'{strategy.info.kind} "{meta(obj).name}" is invalid', errs)  # type: ignore[attr-defined]

    async def check_namespace(self, namespace: str, info: KindInfo) -> None:
        """Creates in a missing namespace are NOT_FOUND, in a terminating one FAILED_PRECONDITION (Events
        excepted, so controllers can still report what they do while a namespace is emptied)."""
        ns_info = kinds.lookup_resource("namespaces")
        cache = self.caches.get("namespaces")
        ns = cache.get(self.key(ns_info, "", namespace)) if cache else None
        if ns is None:
            kv, _ = await self.client.get(self.key(ns_info, "", namespace))
            if kv is None:
                raise errors.NotFound(f'namespaces "{namespace}" not found')
            ns = codec.decode(ns_info, kv.value, kv.mod_revision)
        terminating = ns.metadata.HasField("deletion_timestamp") or ns.status.phase == "Terminating"  # type: ignore[attr-defined]
        if terminating and info.kind != "Event":
            raise errors.FailedPrecondition(
                f"unable to create new content in namespace {namespace} because it is being terminated"
            )

    # -- read ----------------------------------------------------------------------------------------
    async def read(self, info: KindInfo, namespace: str, name: str) -> tuple[Message, int]:
        """The latest object from etcd and its mod_revision; NotFound if absent."""
        kv, _ = await self.client.get(self.key(info, namespace, name))
        if kv is None:
            raise not_found(info, name)
        return codec.decode(info, kv.value, kv.mod_revision), kv.mod_revision

    # -- update --------------------------------------------------------------------------------------
    async def update(self, obj: Message, *, status: bool = False, dry_run: bool = False) -> Message:
        info = kinds.kind_of(obj)
        strategy = self.strategies[info.resource]
        m = meta(obj)
        namespace = (m.namespace or "default") if info.namespaced else ""  # type: ignore[attr-defined]
        if not m.name:  # type: ignore[attr-defined]
            raise errors.Invalid(f"{info.kind} is invalid", [errors.FieldError("metadata.name", "Required value")])
        if status and not strategy.has_status:
            raise errors.NotFound(f"{info.resource} has no status subresource")
        wanted_rv = m.resource_version  # type: ignore[attr-defined]

        def mutate(current: Message) -> Message:
            if m.uid and m.uid != meta(current).uid:  # type: ignore[attr-defined]
                # Same name, different object (deleted and recreated since the client read it).
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {m.uid}, "  # type: ignore[attr-defined]
                    f"UID in object meta: {meta(current).uid}"
                )
            if status:
                new = strategy.merge_for_status_update(obj, current)
            else:
                new = copy(obj)
                kinds.set_type_meta(new)
                strategy.merge_for_update(new, current)
            return new

        return await self.guaranteed_update(
            info,
            namespace,
            m.name,
            mutate,
            wanted_rv=wanted_rv,  # type: ignore[attr-defined]
            dry_run=dry_run,
            status=status,
        )

    async def guaranteed_update(
        self,
        info: KindInfo,
        namespace: str,
        name: str,
        mutate: Callable[[Message], Message],
        *,
        wanted_rv: str = "",
        dry_run: bool = False,
        status: bool = False,
        validate: bool = True,
        system: bool = False,
    ) -> Message:
        """Read, mutate, validate and compare-and-swap; retried on a lost race unless the caller pinned a
        resourceVersion (then the race is the caller's Conflict). `system` mutations (delete, bind,
        finalizers) may change server-owned metadata; a client's update may not."""
        strategy = self.strategies[info.resource]
        key = self.key(info, namespace, name)
        for _ in range(20):
            current, mod_rev = await self.read(info, namespace, name)
            if wanted_rv and wanted_rv != str(mod_rev):
                raise conflict(info, name)
            new = mutate(copy(current))
            if not system:
                self._keep_system_meta(new, current)
            meta(new).resource_version = ""  # type: ignore[attr-defined]
            if not status:
                strategy.default(new)
                if strategy.desired_state(new) != strategy.desired_state(current):
                    meta(new).generation = meta(current).generation + 1  # type: ignore[attr-defined]
            if validate:
                errs = strategy.validate_update(new, current)
                if not system and meta(current).HasField("deletion_timestamp"):
                    added = set(meta(new).finalizers) - set(meta(current).finalizers)
                    if added:
                        errs.append(
                            errors.FieldError(
                                "metadata.finalizers",
                                "Forbidden",
                                "no new finalizers can be added if the object is being deleted",
                            )
                        )
                self.validate(new, strategy, errs)
            data = codec.encode(new)
            check_size(info, name, data)
            if dry_run or data == codec.encode(current):
                return new if dry_run else current  # no change: no write, no event (like Kubernetes)
            m = meta(new)
            if m.HasField("deletion_timestamp") and not m.finalizers and self._deletion_done(strategy, new):  # type: ignore[attr-defined]
                # The last finalizer went away on an object being deleted: the update completes the delete.
                try:
                    await self.client.delete(key, mod_rev)
                except CompareFailed:
                    if wanted_rv:
                        raise conflict(info, name) from None
                    continue
                await self.released(new)
                return new
            try:
                rev = await self.client.update(key, data, mod_rev)
            except CompareFailed as exc:
                if exc.current is None:
                    raise not_found(info, name) from None
                if wanted_rv:
                    raise conflict(info, name) from None
                continue
            m.resource_version = str(rev)  # type: ignore[attr-defined]
            return new
        raise errors.Conflict(f"too many concurrent writers to {info.resource} {name!r}; try again")

    @staticmethod
    def _deletion_done(strategy: Strategy, obj: Message) -> bool:
        # A pod with a grace period left is still running on its node: the kubelet's grace-0 delete ends it.
        if strategy.holds_deletion(obj):
            return False
        if strategy.graceful_delete:
            return meta(obj).deletion_grace_period_seconds == 0  # type: ignore[attr-defined]
        return True

    @staticmethod
    def _keep_system_meta(new: Message, old: Message) -> None:
        """Fields only the server sets survive any update."""
        n, o = meta(new), meta(old)
        n.name, n.namespace, n.uid = o.name, o.namespace, o.uid  # type: ignore[attr-defined]
        n.generate_name = o.generate_name  # type: ignore[attr-defined]
        n.creation_timestamp.CopyFrom(o.creation_timestamp)  # type: ignore[attr-defined]
        n.generation = o.generation  # type: ignore[attr-defined]
        n.ClearField("deletion_timestamp")  # type: ignore[arg-type]
        n.ClearField("deletion_grace_period_seconds")  # type: ignore[arg-type]
        if o.HasField("deletion_timestamp"):
            n.deletion_timestamp.CopyFrom(o.deletion_timestamp)  # type: ignore[attr-defined]
        if o.HasField("deletion_grace_period_seconds"):
            n.deletion_grace_period_seconds = o.deletion_grace_period_seconds  # type: ignore[attr-defined]
        n.resource_version = ""  # type: ignore[attr-defined]
