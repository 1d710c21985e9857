"""The scheduler's view of the cluster: nodes, and pods bound to them, from two informers.

A pod bound by this scheduler is "assumed" on its node at once, before the informer reports the
binding, so two pods scheduled back to back both count against the node (kube-scheduler's assume
cache). An assumed pod is forgotten as soon as the informer shows it, or after ``ASSUME_TTL`` seconds
if the binding never shows up.
"""

from __future__ import annotations

import time

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import Informer, object_key

from skiff_scheduler.framework import NodeInfo
from skiff_scheduler.plugins.node_resources import pod_requests, pod_requests_nonzero

NODE_INDEX = "nodeName"
ASSUME_TTL = 30.0


def node_index(pod: pod_pb2.Pod) -> list[str]:
    return [pod.spec.node_name] if pod.spec.node_name else []


class SchedulerCache:
    def __init__(self, nodes: Informer[node_pb2.Node], assigned: Informer[pod_pb2.Pod]) -> None:
        self.nodes = nodes
        self.assigned = assigned
        assigned.add_indexer(NODE_INDEX, node_index)
        self._assumed: dict[str, tuple[pod_pb2.Pod, float]] = {}

    def assume(self, pod: pod_pb2.Pod, node_name: str) -> None:
        bound = pod_pb2.Pod()
        bound.CopyFrom(pod)
        bound.spec.node_name = node_name
        self._assumed[object_key(pod)] = (bound, time.monotonic() + ASSUME_TTL)

    def forget(self, pod: pod_pb2.Pod) -> None:
        self._assumed.pop(object_key(pod), None)

    def _live_assumed(self) -> list[pod_pb2.Pod]:
        now = time.monotonic()
        for key, (pod, deadline) in list(self._assumed.items()):
            seen = self.assigned.store.get(key)
            if now > deadline or (seen is not None and seen.metadata.uid == pod.metadata.uid):
                del self._assumed[key]
        return [p for p, _ in self._assumed.values()]

    def node_infos(self) -> list[NodeInfo]:
        assumed = self._live_assumed()
        infos = []
        for node in self.nodes.store.list():
            name = node.metadata.name
            pods = [
                p
                for p in self.assigned.store.by_index(NODE_INDEX, name)
                if p.status.phase not in ("Succeeded", "Failed")
            ]
            pods += [p for p in assumed if p.spec.node_name == name]
            info = NodeInfo(node=node, pods=pods)
            for p in pods:
                cpu, mem = pod_requests(p)
                info.requested_milli_cpu += cpu
                info.requested_memory += mem
                nz_cpu, nz_mem = pod_requests_nonzero(p)
                info.nonzero_milli_cpu += nz_cpu
                info.nonzero_memory += nz_mem
            infos.append(info)
        return sorted(infos, key=lambda i: i.name)
