"""The scheduling framework: extension points as Protocols, a Status value, and a plugin registry.

Modelled on kube-scheduler's framework, trimmed to what Skiff uses today:

    for each node:  Filter plugins (all must return Success)      -> feasible nodes
    for feasible:   Score plugins (0..100 each, weighted sum)     -> best node -> Bind

A plugin implements only the extension points it needs; ``typing.Protocol`` lets mypy check that. A
"does not fit" answer is a ``Status`` with code Unschedulable (may fit later, e.g. when pods leave) or
UnschedulableAndUnresolvable (no pod movement helps, e.g. a node selector mismatch); exceptions are
reserved for bugs and become code Error.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from skiff.api.core.v1 import node_pb2, pod_pb2

MAX_NODE_SCORE = 100


class Code(enum.Enum):
    SUCCESS = "Success"
    UNSCHEDULABLE = "Unschedulable"
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    ERROR = "Error"
    SKIP = "Skip"


@dataclass(frozen=True)
class Status:
    code: Code = Code.SUCCESS
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @property
    def ok(self) -> bool:
        return self.code in (Code.SUCCESS, Code.SKIP)

    @classmethod
    def success(cls) -> Status:
        return cls()

    @classmethod
    def unschedulable(cls, *reasons: str, unresolvable: bool = False) -> Status:
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return cls(code, tuple(reasons))

    @classmethod
    def error(cls, reason: str) -> Status:
        return cls(Code.ERROR, (reason,))


@dataclass
class NodeInfo:
    """A node plus the pods bound (or assumed bound) to it, with their summed requests."""

    node: node_pb2.Node
    pods: list[pod_pb2.Pod] = field(default_factory=list)
    requested_milli_cpu: int = 0
    requested_memory: int = 0
    # Requests with defaults for containers that ask for nothing (100m, 200Mi), used for scoring only,
    # so best-effort pods still spread instead of piling onto one "empty" node.
    nonzero_milli_cpu: int = 0
    nonzero_memory: int = 0

    @property
    def name(self) -> str:
        return self.node.metadata.name


class Plugin(Protocol):
    name: str


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str
    weight: int

    def score(self, pod: pod_pb2.Pod, node: NodeInfo) -> int: ...


PluginFactory = Callable[[], Plugin]


class Registry:
    """Plugin factories by name; registering a name twice is a programming error."""

    def __init__(self) -> None:
        self._factories: dict[str, PluginFactory] = {}

    def register(self, name: str, factory: PluginFactory) -> None:
        if name in self._factories:
            raise ValueError(f"plugin {name!r} is already registered")
        self._factories[name] = factory

    def names(self) -> list[str]:
        return list(self._factories)

    def build(self, names: list[str] | None = None) -> list[Plugin]:
        chosen = names if names is not None else self.names()
        unknown = [n for n in chosen if n not in self._factories]
        if unknown:
            raise ValueError(f"--plugins: unknown scheduler plugins {unknown} (known: {self.names()})")
        return [self._factories[n]() for n in chosen]


@dataclass
class Framework:
    filters: list[FilterPlugin]
    scorers: list[ScorePlugin]

    @classmethod
    def from_plugins(cls, plugins: list[Plugin]) -> Framework:
        return cls(
            [p for p in plugins if isinstance(p, FilterPlugin)],
            [p for p in plugins if isinstance(p, ScorePlugin)],
        )

    def run_filters(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        for plugin in self.filters:
            try:
                status = plugin.filter(pod, node)
            except Exception as exc:  # a plugin bug must not crash the scheduler
                return Status(Code.ERROR, (f"{plugin.name}: {exc}",), plugin.name)
            if not status.ok:
                return Status(status.code, status.reasons, plugin.name)
        return Status.success()

    def run_scores(self, pod: pod_pb2.Pod, node: NodeInfo) -> int:
        total = 0
        for plugin in self.scorers:
            total += max(0, min(MAX_NODE_SCORE, plugin.score(pod, node))) * plugin.weight
        return total
