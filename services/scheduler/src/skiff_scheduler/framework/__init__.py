"""The scheduling framework: extension points, CycleState, Status, NodeInfo/PodInfo and the runtime.

See ``interfaces`` for the points and ``runtime`` for how a profile runs them; plugins live in
``skiff_scheduler.plugins``, one module each, registered by name in ``plugins.registry``.
"""

from skiff_scheduler.framework.cycle_state import CycleState, StateData
from skiff_scheduler.framework.handle import Handle, Nominator, Snapshot
from skiff_scheduler.framework.interfaces import (
    MAX_NODE_SCORE,
    ClusterEvent,
    ClusterEventWithHint,
    NodeScore,
    PreFilterResult,
)
from skiff_scheduler.framework.status import Code, Status
from skiff_scheduler.framework.types import AffinityTerm, NodeInfo, PodInfo

__all__ = [
    "MAX_NODE_SCORE",
    "AffinityTerm",
    "ClusterEvent",
    "ClusterEventWithHint",
    "Code",
    "CycleState",
    "Handle",
    "NodeInfo",
    "NodeScore",
    "Nominator",
    "PodInfo",
    "PreFilterResult",
    "Snapshot",
    "StateData",
    "Status",
]
