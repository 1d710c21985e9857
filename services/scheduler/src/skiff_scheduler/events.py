"""Informer events -> cache updates and the cluster events that wake parked pods.

A node update is classified the way kube-scheduler does (allocatable, labels, taints/unschedulable,
conditions), so a heartbeat that changes only timestamps wakes nobody; an assigned pod's update is a
label change or a scale-down; terminal pods count as deleted.
"""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import node_pb2, pod_pb2

from skiff_scheduler.cache import TERMINAL, SchedulerCache
from skiff_scheduler.framework.handle import Nominator
from skiff_scheduler.framework.interfaces import (
    ADD,
    DELETE,
    UPDATE_NODE_ALLOCATABLE,
    UPDATE_NODE_CONDITION,
    UPDATE_NODE_LABEL,
    UPDATE_NODE_TAINT,
    UPDATE_POD_LABEL,
    UPDATE_POD_SCALE_DOWN,
    ClusterEvent,
)
from skiff_scheduler.framework.types import compute_requests
from skiff_scheduler.queue import SchedulingQueue


def node_update_events(old: node_pb2.Node, new: node_pb2.Node) -> list[ClusterEvent]:
    out = []
    if old.status.allocatable != new.status.allocatable:
        out.append(ClusterEvent("Node", UPDATE_NODE_ALLOCATABLE))
    if old.metadata.labels != new.metadata.labels:
        out.append(ClusterEvent("Node", UPDATE_NODE_LABEL))
    if old.spec.taints != new.spec.taints or old.spec.unschedulable != new.spec.unschedulable:
        out.append(ClusterEvent("Node", UPDATE_NODE_TAINT))
    if [(c.type, c.status) for c in old.status.conditions] != [(c.type, c.status) for c in new.status.conditions]:
        out.append(ClusterEvent("Node", UPDATE_NODE_CONDITION))
    return out


class EventHandlers:
    def __init__(
        self,
        cache: SchedulerCache,
        queue: SchedulingQueue,
        nominator: Nominator,
        namespaces: dict[str, dict[str, str]],
        wants: Any,
        in_flight: set[str],
    ) -> None:
        self.cache = cache
        self.queue = queue
        self.nominator = nominator
        self.namespaces = namespaces
        self.wants = wants
        self.in_flight = in_flight

    # -- unscheduled pods -> queue ---------------------------------------------------------------------
    def pending_add(self, pod: pod_pb2.Pod) -> None:
        if self.wants(pod) and _key(pod) not in self.in_flight:
            self.queue.add(pod)

    def pending_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if not self.wants(new):
            self.queue.delete(new)
        elif _key(new) not in self.in_flight:
            self.queue.update(new)

    def pending_delete(self, pod: pod_pb2.Pod) -> None:
        self.queue.delete(pod)
        self.nominator.remove(pod.metadata.uid)

    # -- assigned pods -> cache + events ---------------------------------------------------------------
    def assigned_add(self, pod: pod_pb2.Pod) -> None:
        self.cache.add_pod(pod)
        if pod.status.phase not in TERMINAL:
            self.queue.on_event(ClusterEvent("Pod", ADD), None, pod)

    def assigned_update(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        self.cache.update_pod(old, new)
        if new.status.phase in TERMINAL and old.status.phase not in TERMINAL:
            self.queue.on_event(ClusterEvent("Pod", DELETE), old, None)
            return
        if old.metadata.labels != new.metadata.labels:
            self.queue.on_event(ClusterEvent("Pod", UPDATE_POD_LABEL), old, new)
        if old.spec != new.spec:
            before, after = compute_requests(old), compute_requests(new)
            if any(after.get(k, 0) < v for k, v in before.items()):
                self.queue.on_event(ClusterEvent("Pod", UPDATE_POD_SCALE_DOWN), old, new)

    def assigned_delete(self, pod: pod_pb2.Pod) -> None:
        self.cache.remove_pod(pod)
        self.queue.on_event(ClusterEvent("Pod", DELETE), pod, None)

    # -- nodes -----------------------------------------------------------------------------------------
    def node_add(self, node: node_pb2.Node) -> None:
        self.cache.add_node(node)
        self.queue.on_event(ClusterEvent("Node", ADD), None, node)

    def node_update(self, old: node_pb2.Node, new: node_pb2.Node) -> None:
        self.cache.update_node(new)
        for ev in node_update_events(old, new):
            self.queue.on_event(ev, old, new)

    def node_delete(self, node: node_pb2.Node) -> None:
        self.cache.remove_node(node)
        self.queue.on_event(ClusterEvent("Node", DELETE), node, None)

    # -- namespaces (for namespaceSelector in pod affinity) --------------------------------------------
    def namespace_set(self, ns: Any, new: Any = None) -> None:
        obj = new if new is not None else ns
        self.namespaces[obj.metadata.name] = dict(obj.metadata.labels)

    def namespace_delete(self, ns: Any) -> None:
        self.namespaces.pop(ns.metadata.name, None)


def _key(pod: pod_pb2.Pod) -> str:
    return f"{pod.metadata.namespace}/{pod.metadata.name}"
