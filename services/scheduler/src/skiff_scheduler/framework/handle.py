"""Handle: what the framework gives a plugin besides the pod -- the cycle's snapshot, the API client,
the nominator, and (for preemption) the framework itself to re-run filters on a simulated node."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from skiff_scheduler.framework.types import NodeInfo, PodInfo

if TYPE_CHECKING:
    from skiff_scheduler.framework.runtime import Framework


@dataclass
class Snapshot:
    """The cluster as one scheduling cycle sees it; never mutated during the cycle."""

    nodes: list[NodeInfo] = field(default_factory=list)
    by_name: dict[str, NodeInfo] = field(default_factory=dict)
    with_affinity: list[NodeInfo] = field(default_factory=list)
    with_required_anti_affinity: list[NodeInfo] = field(default_factory=list)
    image_nodes: dict[str, int] = field(default_factory=dict)  # image -> number of nodes that have it
    positions: dict[str, int] = field(default_factory=dict)  # name -> index in ``nodes``

    def get(self, name: str) -> NodeInfo | None:
        return self.by_name.get(name)


class Nominator:
    """Pods nominated to a node by preemption: counted there by Filter for pods of lower or equal priority."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[str, PodInfo]] = {}
        self._node_of: dict[str, str] = {}

    def add(self, pi: PodInfo, node: str) -> None:
        self.remove(pi.uid)
        if node:
            self._by_node.setdefault(node, {})[pi.uid] = pi
            self._node_of[pi.uid] = node

    def remove(self, uid: str) -> None:
        node = self._node_of.pop(uid, None)
        if node is not None:
            self._by_node.get(node, {}).pop(uid, None)

    def on_node(self, node: str) -> list[PodInfo]:
        return list(self._by_node.get(node, {}).values())

    def __bool__(self) -> bool:
        return bool(self._node_of)

    def node_of(self, uid: str) -> str:
        return self._node_of.get(uid, "")


@dataclass
class Handle:
    client: Any = None  # skiff_client.ApiClient (None in unit tests)
    snapshot: Snapshot = field(default_factory=Snapshot)
    nominator: Nominator = field(default_factory=Nominator)
    namespaces: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # namespace -> labels
    framework: Framework | None = None
    events: Any = None  # skiff_client.EventRecorder

    def namespace_labels(self, ns: str) -> Mapping[str, str] | None:
        return self.namespaces.get(ns)
