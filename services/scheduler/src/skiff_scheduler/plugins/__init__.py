"""Scheduler plugins, one per module, each with a table-driven test in tests/.

``default_registry()`` is the one place plugins are registered by name. There is no plugin that reads
the node's Ready condition: as in kube-scheduler, readiness reaches the scheduler as taints
(``node.kubernetes.io/not-ready`` / ``unreachable``, put by the node lifecycle controller) and
TaintToleration filters on them.
"""

from __future__ import annotations

from skiff_scheduler.framework import Registry
from skiff_scheduler.plugins.node_affinity import NodeAffinity
from skiff_scheduler.plugins.node_resources import LeastAllocated, NodeResourcesFit
from skiff_scheduler.plugins.node_unschedulable import NodeUnschedulable
from skiff_scheduler.plugins.taint_toleration import TaintToleration


def default_registry() -> Registry:
    reg = Registry()
    reg.register(NodeUnschedulable.name, NodeUnschedulable)
    reg.register(NodeAffinity.name, NodeAffinity)
    reg.register(TaintToleration.name, TaintToleration)
    reg.register(NodeResourcesFit.name, NodeResourcesFit)
    reg.register(LeastAllocated.name, LeastAllocated)
    return reg
