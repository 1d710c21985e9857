"""The controller kit: one work loop, ownership by UID, expectations, PodControl and a builder.

A controller is then only its reconcile function (see docs/architecture.md, "The controller kit")::

    loop = ControllerBuilder("replicaset", factory).for_(ReplicaSet).owns(Pod).complete(reconcile)
"""

from skiff_client.controller.builder import ControllerBuilder, owner_key
from skiff_client.controller.expectations import EXPECTATIONS_TIMEOUT, Expectations
from skiff_client.controller.loop import Reconcile, Result, TerminalError, WorkLoop
from skiff_client.controller.ownership import (
    CONTROLLER_UID_INDEX,
    ControllerRefManager,
    controller_ref,
    controller_uid_index,
    is_deleting,
    new_controller_ref,
)
from skiff_client.controller.podcontrol import BatchError, PodControl, pod_from_template, slow_start_batch
from skiff_client.controller.pods import (
    available_in,
    is_active,
    is_available,
    is_ready,
    rank_pods_for_deletion,
    ready_since,
)

__all__ = [
    "CONTROLLER_UID_INDEX",
    "EXPECTATIONS_TIMEOUT",
    "BatchError",
    "ControllerBuilder",
    "ControllerRefManager",
    "Expectations",
    "PodControl",
    "Reconcile",
    "Result",
    "TerminalError",
    "WorkLoop",
    "available_in",
    "controller_ref",
    "controller_uid_index",
    "is_active",
    "is_available",
    "is_deleting",
    "is_ready",
    "new_controller_ref",
    "owner_key",
    "pod_from_template",
    "rank_pods_for_deletion",
    "ready_since",
    "slow_start_batch",
]
