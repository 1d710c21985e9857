"""The generic registry: Create, Get, List, Update and UpdateStatus for every kind.

Every write is one etcd transaction (storage/etcd.py): create compares create_revision == 0 (so a
duplicate name is ALREADY_EXISTS, never an overwrite), update compares the mod_revision that was read. An
update that names a resourceVersion fails with Conflict (ABORTED) if it is stale; one that names none is
retried against the latest object (`guaranteed_update`), like Kubernetes' GuaranteedUpdate. Deletion and
finalizers live in delete.py; reads and pagination in reads.py. The store names no kind: whatever differs
between kinds (defaults, validation, addresses and ports held beside the object, an expiry lease) is asked
of the kind's strategy through its hooks (strategy.py), and admission checks on create and delete
(registry/lifecycle.py) are handed in by the caller, as are the validating checks that run last on create
(ResourceQuota admission charges the object right before it is written).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.admission.mutating import admit_create
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.objects import check_size, conflict, meta, not_found, random_suffix
from skiff_apiserver.registry.strategies import strategy_for
from skiff_apiserver.registry.strategy import StorageEnv, Strategy, copy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import CompareFailed, EtcdClient
from skiff_apiserver.storage.watch_cache import WatchCache


class Admission(Protocol):
    """Checks every create (after its namespace is known), every client update (after validation) and
    every delete passes, raising a domain error to refuse (e.g. registry/lifecycle.py)."""

    async def admit_create(self, info: KindInfo, obj: Message, strategy: Strategy) -> None: ...

    def admit_update(self, info: KindInfo, new: Message, old: Message) -> None: ...

    def admit_delete(self, info: KindInfo, obj: Message) -> None: ...


class ValidatingAdmission(Protocol):
    """Checks a create (and a client's update of the object itself, not of a subresource) last, after
    defaulting, mutating admission and validation, right before the write (ResourceQuota admission, which
    charges the object's cost there); runs on dry runs too."""

    async def validate_create(self, info: KindInfo, obj: Message, *, dry_run: bool = False) -> None: ...

    async def validate_update(self, info: KindInfo, new: Message, old: Message, *, dry_run: bool = False) -> None: ...


class Store:
    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        caches: dict[str, WatchCache],
        *,
        event_ttl: int = 3600,
        service_cidr: str = "",
        node_port_range: str = "30000-32767",
        admission: Sequence[Admission] = (),
        validating: Sequence[ValidatingAdmission] = (),
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.caches = caches
        self.admission = tuple(admission)
        self.validating = tuple(validating)
        env = StorageEnv(client, prefix, service_cidr, node_port_range, event_ttl)
        self.strategies: dict[str, Strategy] = {i.resource: strategy_for(i, env) for i in kinds.ALL_KINDS}

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
        m.namespace = (m.namespace or "default") if info.namespaced else ""
        for admission in self.admission:
            await admission.admit_create(info, obj, strategy)
        generated = not m.name and bool(m.generate_name)
        for attempt in range(5):
            if generated:
                m.name = m.generate_name + random_suffix()
            self._prepare_create(obj, strategy)
            data = codec.encode(obj)
            check_size(info, m.name, data)
            if attempt == 0 and self.validating:
                drawn = m.name
                if generated:
                    m.name = ""  # as in Kubernetes, admission sees a generateName request without a name
                try:
                    for check in self.validating:
                        await check.validate_create(info, obj, dry_run=dry_run)
                finally:
                    m.name = drawn
            if dry_run:
                await strategy.before_create(obj, dry_run=True)
                return obj, data
            before = data
            changed = await strategy.before_create(obj)
            if changed:
                data = codec.encode(obj)
            try:
                lease = await strategy.storage_lease()
                rev = await self.client.create(self.key(info, m.namespace, m.name), data, lease=lease)
            except BaseException as exc:
                # Give back what before_create took (an IP, a port) for an object that was never stored.
                await strategy.after_create_failed(obj)
                if not isinstance(exc, CompareFailed):
                    raise
                if generated and attempt < 4:
                    if changed:
                        obj = codec.decode(info, before, 0)  # drop the allocations, draw a new name
                        m = meta(obj)
                        m.resource_version = ""
                    continue  # a generated name collided: draw another one
                raise errors.AlreadyExists(f'{info.resource} "{m.name}" already exists') from None
            m.resource_version = str(rev)
            return obj, data
        raise AssertionError("unreachable")

    def _prepare_create(self, obj: Message, strategy: Strategy) -> None:
        m = meta(obj)
        m.uid = str(uuid.uuid4())
        ts = m.creation_timestamp
        ts.seconds, ts.nanos = int(time.time()), 0  # what CopyFrom(now()) sets, without a temporary
        m.generation = 1
        m.resource_version = ""
        m.ClearField("deletion_timestamp")
        m.ClearField("deletion_grace_period_seconds")
        strategy.prepare_for_create(obj)
        strategy.default(obj)
        admit_create(strategy.info.kind, obj)
        self.validate(obj, strategy, strategy.validate(obj))

    def validate(self, obj: Message, strategy: Strategy, kind_errors: list[errors.FieldError]) -> None:
        errs = strategy.validate_meta(obj) + kind_errors
        if errs:
            raise errors.Invalid(f'{strategy.info.kind} "{meta(obj).name}" is invalid', errs)

    # -- read ----------------------------------------------------------------------------------------
    async def read(self, info: KindInfo, namespace: str, name: str) -> tuple[Message, int]:
        """The latest object from etcd and its mod_revision; NotFound if absent."""
        kv, _ = await self.client.get(self.key(info, namespace, name))
        if kv is None:
            raise not_found(info, name)
        return codec.decode(info, kv.value, kv.mod_revision), kv.mod_revision

    # -- update --------------------------------------------------------------------------------------
    async def update(
        self, obj: Message, *, status: bool = False, dry_run: bool = False, subresource: str = ""
    ) -> Message:
        """Update the object, or with `subresource` ("status", or one the kind's strategy knows, such as a
        namespace's "finalize") only that part of it; `status=True` is `subresource="status"`."""
        info = kinds.kind_of(obj)
        strategy = self.strategies[info.resource]
        subresource = subresource or ("status" if status else "")
        m = meta(obj)
        namespace = (m.namespace or "default") if info.namespaced else ""
        if not m.name:
            raise errors.Invalid(f"{info.kind} is invalid", [errors.FieldError("metadata.name", "Required value")])
        if subresource == "status" and not strategy.has_status:
            raise errors.NotFound(f"{info.resource} has no status subresource")
        wanted_rv = m.resource_version

        def mutate(current: Message) -> Message:
            if m.uid and m.uid != meta(current).uid:
                # Same name, different object (deleted and recreated since the client read it).
                raise errors.Conflict(
                    f"Precondition failed: UID in precondition: {m.uid}, UID in object meta: {meta(current).uid}"
                )
            if subresource:
                return strategy.merge_for_subresource_update(subresource, obj, current)
            new = copy(obj)
            kinds.set_type_meta(new)
            strategy.merge_for_update(new, current)
            return new

        return await self.guaranteed_update(
            info,
            namespace,
            m.name,
            mutate,
            wanted_rv=wanted_rv,
            dry_run=dry_run,
            status=bool(subresource),
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
        finalizers) may change server-owned metadata; a client's update may not. `status`: a subresource
        update, which neither defaults the object nor bumps its generation."""
        strategy = self.strategies[info.resource]
        key = self.key(info, namespace, name)
        for _ in range(20):
            current, mod_rev = await self.read(info, namespace, name)
            if wanted_rv and wanted_rv != str(mod_rev):
                raise conflict(info, name)
            new = mutate(copy(current))
            if not system:
                self._keep_system_meta(new, current)
            m = meta(new)
            m.resource_version = ""
            if not status:
                strategy.default(new)
                if strategy.desired_state(new) != strategy.desired_state(current):
                    m.generation = meta(current).generation + 1
            if validate:
                self.validate(new, strategy, self._update_errors(strategy, new, current, system))
            if not system:
                for admission in self.admission:
                    admission.admit_update(info, new, current)
                if not status:
                    for check in self.validating:
                        await check.validate_update(info, new, current, dry_run=dry_run)
            data = codec.encode(new)
            check_size(info, name, data)
            if dry_run:
                await strategy.before_update(new, current, dry_run=True)
                return new
            if data == codec.encode(current):
                return current  # no change: no write, no event (like Kubernetes)
            if m.HasField("deletion_timestamp") and not m.finalizers and self._deletion_done(strategy, new):
                # The last finalizer went away on an object being deleted: the update completes the delete.
                try:
                    await self.client.delete(key, mod_rev)
                except CompareFailed:
                    if wanted_rv:
                        raise conflict(info, name) from None
                    continue
                await strategy.after_delete(new)
                return new
            if await strategy.before_update(new, current):
                data = codec.encode(new)
            try:
                rev = await self.client.update(key, data, mod_rev)
            except BaseException as exc:
                await strategy.after_update_failed(new, current)
                if not isinstance(exc, CompareFailed):
                    raise
                if exc.current is None:
                    raise not_found(info, name) from None
                if wanted_rv:
                    raise conflict(info, name) from None
                continue
            await strategy.after_update(new, current)
            m.resource_version = str(rev)
            return new
        raise errors.Conflict(f"too many concurrent writers to {info.resource} {name!r}; try again")

    @staticmethod
    def _update_errors(strategy: Strategy, new: Message, current: Message, system: bool) -> list[errors.FieldError]:
        errs = strategy.validate_update(new, current)
        if not system and meta(current).HasField("deletion_timestamp"):
            if set(meta(new).finalizers) - set(meta(current).finalizers):
                errs.append(
                    errors.FieldError(
                        "metadata.finalizers",
                        "Forbidden",
                        "no new finalizers can be added if the object is being deleted",
                    )
                )
        return errs

    @staticmethod
    def _deletion_done(strategy: Strategy, obj: Message) -> bool:
        # A pod with a grace period left is still running on its node: the kubelet's grace-0 delete ends it.
        if strategy.holds_deletion(obj):
            return False
        if strategy.graceful_delete:
            return meta(obj).deletion_grace_period_seconds == 0
        return True

    @staticmethod
    def _keep_system_meta(new: Message, old: Message) -> None:
        """Fields only the server sets survive any update."""
        n, o = meta(new), meta(old)
        n.name, n.namespace, n.uid = o.name, o.namespace, o.uid
        n.generate_name = o.generate_name
        n.creation_timestamp.CopyFrom(o.creation_timestamp)
        n.generation = o.generation
        n.ClearField("deletion_timestamp")
        n.ClearField("deletion_grace_period_seconds")
        if o.HasField("deletion_timestamp"):
            n.deletion_timestamp.CopyFrom(o.deletion_timestamp)
        if o.HasField("deletion_grace_period_seconds"):
            n.deletion_grace_period_seconds = o.deletion_grace_period_seconds
        n.resource_version = ""
        if not n.managed_fields:  # an update that omits managedFields keeps them, as Kubernetes does
            n.managed_fields.extend(o.managed_fields)
