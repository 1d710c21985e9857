"""Scheduler plugins, one per module, each with a table-driven test in tests/.

``default_registry()`` is the one place plugins are registered by name; profiles (see
skiff_scheduler.profile) choose among them. There is no plugin that reads the node's Ready condition:
as in kube-scheduler, readiness reaches the scheduler as taints (``node.kubernetes.io/not-ready`` /
``unreachable``, put by the node lifecycle controller) and TaintToleration filters on them.
"""

from __future__ import annotations

from skiff_scheduler.framework.registry import Registry
from skiff_scheduler.plugins.balanced_allocation import BalancedAllocation
from skiff_scheduler.plugins.default_binder import DefaultBinder
from skiff_scheduler.plugins.default_preemption import DefaultPreemption
from skiff_scheduler.plugins.image_locality import ImageLocality
from skiff_scheduler.plugins.inter_pod_affinity import InterPodAffinity
from skiff_scheduler.plugins.node_affinity import NodeAffinity
from skiff_scheduler.plugins.node_name import NodeName
from skiff_scheduler.plugins.node_ports import NodePorts
from skiff_scheduler.plugins.node_resources_fit import NodeResourcesFit
from skiff_scheduler.plugins.node_unschedulable import NodeUnschedulable
from skiff_scheduler.plugins.pod_topology_spread import PodTopologySpread
from skiff_scheduler.plugins.priority_sort import PrioritySort
from skiff_scheduler.plugins.taint_toleration import TaintToleration
from skiff_scheduler.plugins.volume_binding import VolumeBinding

ALL_PLUGINS = (
    PrioritySort,
    NodeUnschedulable,
    NodeName,
    TaintToleration,
    NodeAffinity,
    NodePorts,
    NodeResourcesFit,
    VolumeBinding,
    PodTopologySpread,
    InterPodAffinity,
    DefaultPreemption,
    BalancedAllocation,
    ImageLocality,
    DefaultBinder,
)


def default_registry() -> Registry:
    reg = Registry()
    for cls in ALL_PLUGINS:
        reg.register(cls.name, cls)
    return reg
