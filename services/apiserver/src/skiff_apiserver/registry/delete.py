"""Delete: preconditions, graceful pod deletion, finalizers and propagationPolicy.

* An object whose deletion must wait (finalizers; a kind-specific hold such as a namespace's spec
  finalizer; a pod's grace period) gets deletionTimestamp (+ deletionGracePeriodSeconds) and stays; it is
  removed by the update that clears the last finalizer, or for pods by the kubelet's delete with grace 0.
* The grace period is the kind's (strategy.deletion_grace, Kubernetes' CheckGracefulDelete): 0 for most
  kinds; for pods the request's, else spec.terminationGracePeriodSeconds (30), and 0 for a pod that was
  never scheduled or has finished (no kubelet to confirm anything).
* propagationPolicy is recorded the Kubernetes way, as the "foregroundDeletion" or "orphan" finalizer, for
  the garbage collector to act on. The two are exclusive (deletionFinalizersForGarbageCollection): an
  explicit policy replaces whichever the object carries -- Foreground or Orphan swaps one for the other,
  Background removes both (so a stuck foreground deletion can be finished in the background); a delete
  without a policy keeps what is there.
"""

from __future__ import annotations

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo
from skiff_apiserver.registry.objects import meta, not_found, now
from skiff_apiserver.registry.store import Store
from skiff_apiserver.registry.strategy import Strategy, copy
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import CompareFailed

POLICIES = {"": None, "Background": None, "Foreground": "foregroundDeletion", "Orphan": "orphan"}
GC_FINALIZERS = frozenset({"foregroundDeletion", "orphan"})


class Deleter:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def delete(
        self,
        info: KindInfo,
        namespace: str,
        name: str,
        *,
        grace: int | None = None,
        propagation: str = "",
        uid: str | None = None,
        rv: str | None = None,
        dry_run: bool = False,
    ) -> Message:
        if propagation not in POLICIES:
            raise errors.Invalid(
                "DeleteOptions is invalid",
                [
                    errors.FieldError(
                        "propagationPolicy",
                        "Unsupported value",
                        f'{propagation!r}: supported values: "Background", "Foreground", "Orphan"',
                    )
                ],
            )
        if grace is not None and grace < 0:
            raise errors.Invalid(
                "DeleteOptions is invalid",
                [errors.FieldError("gracePeriodSeconds", "Invalid value", "must be greater than or equal to 0")],
            )
        namespace = (namespace or "default") if info.namespaced else ""
        strategy = self.store.strategies[info.resource]
        key = self.store.key(info, namespace, name)
        for _ in range(20):
            current, mod_rev = await self.store.read(info, namespace, name)
            for admission in self.store.admission:
                admission.admit_delete(info, current)
            m = meta(current)
            if uid is not None and uid != m.uid:
                raise errors.FailedPrecondition(
                    f"Precondition failed: UID in precondition: {uid}, UID in object meta: {m.uid}"
                )
            if rv is not None and rv != str(mod_rev):
                raise errors.FailedPrecondition(
                    f"Precondition failed: ResourceVersion in precondition: {rv}, "
                    f"ResourceVersion in object meta: {mod_rev}"
                )
            new = self._begin(current, strategy, grace, propagation)
            try:
                if new is None:
                    if not dry_run:
                        await self.store.client.delete(key, mod_rev)
                        await strategy.after_delete(current)
                    return current
                if dry_run or codec.encode(new) == codec.encode(current):
                    return current if not dry_run else new
                rev = await self.store.client.update(key, codec.encode(new), mod_rev)
                meta(new).resource_version = str(rev)
                return new
            except CompareFailed as exc:
                if exc.current is None:
                    raise not_found(info, name) from None
                continue  # changed under us: decide again on the latest state
        raise errors.Conflict(f"too many concurrent writers to {info.resource} {name!r}; try again")

    @staticmethod
    def _begin(current: Message, strategy: Strategy, grace: int | None, propagation: str) -> Message | None:
        """The object with deletion started, or None when it can be removed right away."""
        m = meta(current)
        grace = strategy.deletion_grace(current, grace)
        new = copy(current)
        nm = meta(new)
        if propagation:
            kept = [f for f in nm.finalizers if f not in GC_FINALIZERS]
            finalizer = POLICIES[propagation]
            if finalizer:
                kept.append(finalizer)
            if kept != list(nm.finalizers):
                del nm.finalizers[:]
                nm.finalizers.extend(kept)
        if m.HasField("deletion_timestamp"):
            # Already being deleted: a shorter grace period shortens it; grace 0 ends it if nothing holds it.
            held = bool(nm.finalizers) or strategy.holds_deletion(new)
            if strategy.graceful_delete and grace < m.deletion_grace_period_seconds:
                if grace == 0 and not held:
                    return None
                _set_deletion(nm, grace)
            elif not held and not strategy.graceful_delete:
                return None  # the policy change removed the last finalizer: nothing holds it any more
            return new
        held = bool(nm.finalizers) or strategy.holds_deletion(new)
        if grace == 0 and not held:
            return None
        _set_deletion(nm, grace)
        strategy.begin_delete(new)
        return new


def _set_deletion(m: meta_pb2.ObjectMeta, grace: int) -> None:
    ts = Timestamp()
    ts.FromSeconds(now().seconds + grace)
    m.deletion_timestamp.CopyFrom(ts)
    m.deletion_grace_period_seconds = grace
