"""The one table of controllers: name -> constructor. ``--controllers`` picks from it."""

from __future__ import annotations

from collections.abc import Callable

from skiff_controllers.base import Controller, ControllerContext
from skiff_controllers.daemonset.controller import DaemonSetController
from skiff_controllers.garbagecollector.controller import GarbageCollector
from skiff_controllers.namespace.controller import NamespaceController
from skiff_controllers.nodelifecycle.controller import NodeLifecycleController
from skiff_controllers.replicaset.controller import ReplicaSetController

CONTROLLERS: dict[str, Callable[[ControllerContext], Controller]] = {
    NamespaceController.name: NamespaceController,
    ReplicaSetController.name: ReplicaSetController,
    GarbageCollector.name: GarbageCollector,
    NodeLifecycleController.name: NodeLifecycleController,
    DaemonSetController.name: DaemonSetController,
}


def select(names: list[str]) -> list[str]:
    """Resolve --controllers: empty or "*" means all; "-name" disables one; unknown names are an error."""
    if not names or names == ["*"]:
        return list(CONTROLLERS)
    enabled = list(CONTROLLERS) if "*" in names else []
    for n in names:
        if n == "*":
            continue
        bare = n.lstrip("-")
        if bare not in CONTROLLERS:
            raise ValueError(f"--controllers: unknown controller {bare!r} (known: {sorted(CONTROLLERS)})")
        if n.startswith("-"):
            enabled = [e for e in enabled if e != bare]
        elif bare not in enabled:
            enabled.append(bare)
    return enabled
