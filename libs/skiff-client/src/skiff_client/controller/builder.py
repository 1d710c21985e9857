"""ControllerBuilder: wire informers to a reconcile function, as controller-runtime's ``pkg/builder``.

    loop = (ControllerBuilder("replicaset", factory)
            .for_(ReplicaSet)                     # its own key
            .owns(Pod)                            # the key of the pod's controller, if a ReplicaSet
            .watches(Pod, orphan_adopters)        # whatever keys the mapper returns
            .workers(5)
            .complete(reconcile))

Handlers only enqueue keys. ``owns`` resolves the controller ref **by UID**: the owner named by the
ref is looked up in the ``for_`` informer's cache and enqueued only if its UID matches (a pod of a
deleted-and-recreated owner of the same name does not wake the new one). When an update changes the
controller ref, both the old and the new owner are woken. ``owns`` also installs the
``"controllerUID"`` index on the owned informer, so a reconciler lists what an owner controls with
``informer.store.by_index("controllerUID", uid)``.

``for_`` always enqueues on delete (whatever the predicate) so the reconciler can forget the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from google.protobuf.message import Message

from skiff_client.controller.loop import Reconcile, WorkLoop
from skiff_client.controller.ownership import CONTROLLER_UID_INDEX, controller_ref, controller_uid_index
from skiff_client.informer import Informer, InformerFactory
from skiff_client.store import object_key

Predicate = Callable[[Any], bool]
Mapper = Callable[[Any], Iterable[str]]


class ControllerBuilder:
    def __init__(self, name: str, factory: InformerFactory) -> None:
        self.name = name
        self.factory = factory
        self._for: tuple[type[Message], Predicate | None] | None = None
        self._owns: list[type[Message]] = []
        self._watches: list[tuple[type[Message], Mapper]] = []
        self._workers = 2

    def for_(self, cls: type[Message], *, predicate: Predicate | None = None) -> ControllerBuilder:
        if self._for is not None:
            raise ValueError(f"controller {self.name!r}: for_() may be called once")
        self._for = (cls, predicate)
        return self

    def owns(self, cls: type[Message]) -> ControllerBuilder:
        self._owns.append(cls)
        return self

    def watches(self, cls: type[Message], mapper: Mapper) -> ControllerBuilder:
        self._watches.append((cls, mapper))
        return self

    def workers(self, n: int) -> ControllerBuilder:
        if n < 1:
            raise ValueError(f"controller {self.name!r}: workers must be at least 1, got {n}")
        self._workers = n
        return self

    def complete(self, reconcile: Reconcile) -> WorkLoop:
        if self._for is None:
            raise ValueError(f"controller {self.name!r}: for_(kind) is required")
        cls, predicate = self._for
        loop = WorkLoop(self.name, reconcile, workers=self._workers, wait_synced=self.factory.wait_synced)
        primary = self.factory.informer(cls)
        _wire_for(loop, primary, predicate)
        kind = cls.DESCRIPTOR.name  # the message name is the Kubernetes kind
        for owned in self._owns:
            informer = self.factory.informer(owned)
            if not informer.store.has_indexer(CONTROLLER_UID_INDEX):
                informer.add_indexer(CONTROLLER_UID_INDEX, controller_uid_index)
            _wire_owns(loop, informer, primary, kind)
        for watched, mapper in self._watches:
            _wire_watches(loop, self.factory.informer(watched), mapper)
        return loop


def _wire_for(loop: WorkLoop, informer: Informer[Any], predicate: Predicate | None) -> None:
    def on_add(obj: Any) -> None:
        if predicate is None or predicate(obj):
            loop.enqueue(object_key(obj))

    def on_update(_old: Any, new: Any) -> None:
        on_add(new)

    def on_delete(obj: Any) -> None:
        loop.enqueue(object_key(obj))

    informer.add_handler(on_add=on_add, on_update=on_update, on_delete=on_delete)


def owner_key(obj: Any, owners: Informer[Any], kind: str) -> str | None:
    """The cache key of ``obj``'s controller if it is a ``kind`` in ``owners`` with the ref's UID."""
    ref = controller_ref(obj)
    if ref is None or ref.kind != kind:
        return None
    ns = obj.metadata.namespace
    key = f"{ns}/{ref.name}" if ns else ref.name
    owner = owners.store.get(key)
    if owner is None or owner.metadata.uid != ref.uid:
        return None
    return key


def _wire_owns(loop: WorkLoop, informer: Informer[Any], owners: Informer[Any], kind: str) -> None:
    def enqueue_owner(obj: Any) -> None:
        if (key := owner_key(obj, owners, kind)) is not None:
            loop.enqueue(key)

    def on_update(old: Any, new: Any) -> None:
        enqueue_owner(new)
        old_ref, new_ref = controller_ref(old), controller_ref(new)
        if old_ref is not None and (new_ref is None or new_ref.uid != old_ref.uid):
            enqueue_owner(old)

    informer.add_handler(on_add=enqueue_owner, on_update=on_update, on_delete=enqueue_owner)


def _wire_watches(loop: WorkLoop, informer: Informer[Any], mapper: Mapper) -> None:
    def enqueue_mapped(obj: Any) -> None:
        for key in mapper(obj):
            loop.enqueue(key)

    def on_update(old: Any, new: Any) -> None:
        enqueue_mapped(new)

    informer.add_handler(on_add=enqueue_mapped, on_update=on_update, on_delete=enqueue_mapped)
