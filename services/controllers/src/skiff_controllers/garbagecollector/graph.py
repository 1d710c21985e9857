"""The ownership graph and the collector's decisions, without I/O.

Every object with an ownerReference, and every object named as an owner, is a vertex keyed by UID;
edges run owner -> dependent. Owners are matched by **UID**: a dependent whose owner was deleted and
re-created under the same name still points at the old UID and is garbage.

The decisions follow Kubernetes' garbage collector (attemptToDeleteItem):

    owners of a dependent, each one of
        absent   -- not found by a live read, or found with another UID
        waiting  -- being deleted in the foreground (``foregroundDeletion`` finalizer)
        solid    -- anything else

    some solid            -> keep; remove the refs to absent/waiting owners, if any
    waiting, and the item has dependents of its own
                          -> delete the item in the foreground too (its own blockers go first)
    otherwise (all absent or waiting)
                          -> delete it, with the propagation its own finalizers ask for
                             (orphan -> Orphan, foregroundDeletion -> Foreground, else Background)

An owner being deleted with a finalizer of the collector's:
    ``orphan``              -> strip its refs from every dependent, then remove the finalizer
    ``foregroundDeletion``  -> delete its dependents; once no dependent with blockOwnerDeletion
                               remains, remove the finalizer (and the apiserver removes the owner)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from skiff.api.meta.v1 import meta_pb2

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class Vertex:
    uid: str
    resource: str  # plural, for the API calls
    namespace: str
    name: str
    owners: tuple[meta_pb2.OwnerReference, ...] = ()
    deleting: bool = False
    finalizers: tuple[str, ...] = ()

    def owner_uids(self) -> set[str]:
        return {r.uid for r in self.owners}


class Graph:
    def __init__(self) -> None:
        self.vertices: dict[str, Vertex] = {}
        self._dependents: dict[str, set[str]] = {}

    def upsert(self, v: Vertex) -> Vertex | None:
        old = self.vertices.get(v.uid)
        if old is not None:
            self._unlink(old)
        self.vertices[v.uid] = v
        for owner in v.owner_uids():
            self._dependents.setdefault(owner, set()).add(v.uid)
        return old

    def remove(self, uid: str) -> Vertex | None:
        old = self.vertices.pop(uid, None)
        if old is not None:
            self._unlink(old)
        return old

    def _unlink(self, v: Vertex) -> None:
        for owner in v.owner_uids():
            deps = self._dependents.get(owner)
            if deps is not None:
                deps.discard(v.uid)
                if not deps:
                    del self._dependents[owner]

    def dependents(self, uid: str) -> list[Vertex]:
        return [self.vertices[d] for d in sorted(self._dependents.get(uid, ())) if d in self.vertices]

    def has_dependents(self, uid: str) -> bool:
        return bool(self._dependents.get(uid))


class OwnerState(enum.Enum):
    ABSENT = "absent"
    WAITING = "waiting"
    SOLID = "solid"


@dataclass
class Decision:
    """What to do with a dependent: nothing, strip some refs, or delete it with a propagation policy."""

    remove_refs: list[str] = field(default_factory=list)
    delete: str | None = None  # "Background", "Foreground", "Orphan"


def decide(item: Vertex, states: dict[str, OwnerState], has_dependents: bool) -> Decision:
    """`states`: the state of each owner UID of `item`."""
    if not item.owners:
        return Decision()
    solid = [u for u, s in states.items() if s == OwnerState.SOLID]
    gone = sorted(u for u, s in states.items() if s != OwnerState.SOLID)
    if solid:
        return Decision(remove_refs=gone)
    if any(s == OwnerState.WAITING for s in states.values()) and has_dependents:
        return Decision(delete="Foreground")
    if ORPHAN in item.finalizers:
        return Decision(delete="Orphan")
    if FOREGROUND in item.finalizers:
        return Decision(delete="Foreground")
    return Decision(delete="Background")


def state_of(owner: Vertex | None) -> OwnerState:
    """The state of an owner found (by UID) in the graph or by a live read; None = absent."""
    if owner is None:
        return OwnerState.ABSENT
    if owner.deleting and FOREGROUND in owner.finalizers:
        return OwnerState.WAITING
    return OwnerState.SOLID


def blocking(owner_uid: str, dependents: list[Vertex]) -> list[Vertex]:
    """Dependents that hold up a foreground deletion: a ref to the owner with blockOwnerDeletion."""
    return [
        d
        for d in dependents
        if any(r.uid == owner_uid and r.HasField("block_owner_deletion") and r.block_owner_deletion for r in d.owners)
    ]
