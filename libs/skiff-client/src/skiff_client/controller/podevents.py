"""Pod informer events seen from a pod-owning controller (ReplicaSet, DaemonSet, ...).

Two jobs every such controller has and that differ only by the owner informer and kind:
- feed Expectations: a pod appearing is an observed creation, a pod going away (or starting to
  terminate) an observed deletion, counted against the owner named by its controller ref (by UID);
- name the owners an orphan could be adopted by: every owner in its namespace whose non-empty
  selector matches the pod's labels (a ``watches`` mapper for the builder).
"""

from __future__ import annotations

from typing import Any

from skiff_common.apimachinery import labels

from skiff_client.controller.builder import owner_key
from skiff_client.controller.expectations import Expectations
from skiff_client.controller.ownership import controller_ref, is_deleting
from skiff_client.informer import Informer
from skiff_client.store import NAMESPACE_INDEX, object_key


class PodExpectationsFeed:
    """Informer handlers that record observed pod creations and deletions for the owning object."""

    def __init__(self, owners: Informer[Any], kind: str, expectations: Expectations) -> None:
        self.owners = owners
        self.kind = kind
        self.expectations = expectations

    def attach(self, pods: Informer[Any]) -> None:
        pods.add_handler(on_add=self.on_add, on_update=self.on_update, on_delete=self.on_delete)

    def on_add(self, pod: Any) -> None:
        if (key := owner_key(pod, self.owners, self.kind)) is not None:
            if is_deleting(pod):
                self.expectations.deletion_observed(key, pod.metadata.uid)
            else:
                self.expectations.creation_observed(key)

    def on_update(self, old: Any, new: Any) -> None:
        if is_deleting(new) and not is_deleting(old):
            self.on_delete(new)

    def on_delete(self, pod: Any) -> None:
        if (key := owner_key(pod, self.owners, self.kind)) is not None:
            self.expectations.deletion_observed(key, pod.metadata.uid)


def orphan_adopters(pod: Any, owners: Informer[Any]) -> list[str]:
    """Keys of the owners in the pod's namespace that could adopt it (it has no controller)."""
    if controller_ref(pod) is not None or is_deleting(pod):
        return []
    keys = []
    for owner in owners.store.by_index(NAMESPACE_INDEX, pod.metadata.namespace):
        try:
            selector = labels.selector_from_proto(owner.spec.selector)
        except ValueError:
            continue
        if not selector.empty() and selector.matches(dict(pod.metadata.labels)):
            keys.append(object_key(owner))
    return keys
