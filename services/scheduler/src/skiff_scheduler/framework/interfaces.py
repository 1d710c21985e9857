"""The extension points, as Protocols a plugin implements only where it needs to.

    QueueSort -> PreFilter -> Filter (per node) -> PostFilter (only when no node fits: preemption)
              -> PreScore -> Score (per node) -> NormalizeScore -> Reserve -> Permit
    binding cycle (asynchronous): wait for Permit -> PreBind -> Bind -> PostBind; Unreserve on failure

``EnqueueExtensions`` declares which cluster events may make a pod that this plugin rejected
schedulable, each with an optional QueueingHint that looks at the change and answers Queue or Skip;
the scheduling queue moves a parked pod only for events its failing plugins declared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from skiff.api.core.v1 import pod_pb2

from skiff_scheduler.framework.cycle_state import CycleState
from skiff_scheduler.framework.status import Status
from skiff_scheduler.framework.types import NodeInfo, PodInfo

if TYPE_CHECKING:
    from skiff_scheduler.framework.handle import Handle

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """Nodes PreFilter already knows are the only candidates (None: all nodes)."""

    node_names: frozenset[str] | None = None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.node_names is None:
            return self
        if self.node_names is None:
            return other
        return PreFilterResult(self.node_names & other.node_names)


@dataclass(slots=True)
class NodeScore:
    name: str
    score: int


# -- cluster events (EnqueueExtensions) --------------------------------------------------------------
# Resources: "Node", "Pod" (an assigned pod), "PodItself" (the unschedulable pod), "PersistentVolume", ...
# Actions mirror kube-scheduler's ActionType.
ADD, DELETE = "Add", "Delete"
UPDATE_NODE_ALLOCATABLE, UPDATE_NODE_LABEL, UPDATE_NODE_TAINT = (
    "UpdateNodeAllocatable",
    "UpdateNodeLabel",
    "UpdateNodeTaint",
)
UPDATE_NODE_CONDITION, UPDATE_NODE_SPEC = "UpdateNodeCondition", "UpdateNodeSpec"
UPDATE_POD_LABEL, UPDATE_POD_SCALE_DOWN, UPDATE = "UpdatePodLabel", "UpdatePodScaleDown", "Update"
ALL = "*"


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action: str

    def covers(self, other: ClusterEvent) -> bool:
        return (self.resource in (other.resource, ALL)) and (self.action in (other.action, ALL))

    def __str__(self) -> str:
        return f"{self.resource}{self.action}"


QUEUE, QUEUE_SKIP = True, False
QueueingHint = Callable[[pod_pb2.Pod, Any, Any], bool]  # (pending pod, old object, new object) -> queue?


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHint | None = None


class Plugin(Protocol):
    name: str


@runtime_checkable
class QueueSortPlugin(Protocol):
    name: str

    def less(self, a: PodInfo, a_ts: float, b: PodInfo, b_ts: float) -> bool: ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]: ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Keeps a PreFilter's state right when preemption simulates adding/removing pods on a node."""

    name: str

    def add_pod(self, state: CycleState, pod: PodInfo, added: PodInfo, node: NodeInfo) -> Status: ...

    def remove_pod(self, state: CycleState, pod: PodInfo, removed: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class PostFilterPlugin(Protocol):
    name: str

    async def post_filter(
        self, state: CycleState, pod: PodInfo, statuses: dict[str, Status]
    ) -> tuple[str | None, Status]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    name: str

    def normalize_score(self, state: CycleState, pod: PodInfo, scores: list[NodeScore]) -> None: ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    name: str

    def permit(self, state: CycleState, pod: PodInfo, node_name: str) -> tuple[Status, float]: ...


@runtime_checkable
class PreBindPlugin(Protocol):
    name: str

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class BindPlugin(Protocol):
    name: str

    async def bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status: ...


@runtime_checkable
class PostBindPlugin(Protocol):
    name: str

    def post_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> None: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    name: str

    def events_to_register(self) -> list[ClusterEventWithHint]: ...


PluginFactory = Callable[[dict[str, Any], "Handle"], Plugin]
