"""The scheduler cache: NodeInfos kept incrementally from informer events, plus assumed pods.

    informer events --> add/update/remove node|pod --> NodeInfo (sums updated in place, generation++)
    scheduling cycle:   update_snapshot() copies only NodeInfos changed since the last cycle
    assume(pod, node):  counted on the node at once, before the binding is written
    binding done:       finish_binding() starts the assumed pod's TTL; the informer's Add confirms it
    binding failed:     forget() takes it off the node again

Assumed pods make back-to-back cycles see each other (kube-scheduler's assume cache); one whose
binding finished but never showed up in the informer is expired after ``ASSUME_TTL`` seconds.
Terminal pods (Succeeded/Failed) hold no resources and are dropped as kube-scheduler's informer does.
"""

from __future__ import annotations

import time

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_common.observability import get_logger

from skiff_scheduler.framework.handle import Snapshot
from skiff_scheduler.framework.types import NodeInfo, PodInfo

log = get_logger(__name__)
ASSUME_TTL = 30.0
TERMINAL = ("Succeeded", "Failed")


class SchedulerCache:
    def __init__(self, ttl: float = ASSUME_TTL) -> None:
        self.ttl = ttl
        self._nodes: dict[str, NodeInfo] = {}
        self._order: list[str] = []  # node names in arrival order (snapshot order)
        self._pods: dict[str, tuple[PodInfo, str]] = {}  # uid -> (info, node)
        self._assumed: dict[str, float | None] = {}  # uid -> expiry (None: binding in flight)
        self._dirty: set[str] = set()
        self._nodes_changed = True
        self._images: dict[str, set[str]] = {}

    # -- nodes -----------------------------------------------------------------------------------------
    def add_node(self, node: node_pb2.Node) -> None:
        name = node.metadata.name
        info = self._nodes.get(name)
        if info is None:
            info = self._nodes[name] = NodeInfo()
        if info.node is None:
            self._order.append(name)
            self._nodes_changed = True
        old_images = set(info.images)
        info.set_node(node)
        if set(info.images) != old_images:
            self._reindex_images(name, old_images, set(info.images))
        self._dirty.add(name)

    update_node = add_node

    def remove_node(self, node: node_pb2.Node) -> None:
        name = node.metadata.name
        info = self._nodes.get(name)
        if info is None:
            return
        self._reindex_images(name, set(info.images), set())
        if name in self._order:
            self._order.remove(name)
        if info.pods:  # pods still bound there keep their place until they are deleted
            info.node = None
            info.generation += 1
        else:
            del self._nodes[name]
        self._nodes_changed = True
        self._dirty.add(name)

    def _reindex_images(self, node: str, old: set[str], new: set[str]) -> None:
        for img in old - new:
            holders = self._images.get(img)
            if holders is not None:
                holders.discard(node)
                if not holders:
                    del self._images[img]
        for img in new - old:
            self._images.setdefault(img, set()).add(node)
        self._nodes_changed = True

    # -- pods ------------------------------------------------------------------------------------------
    def add_pod(self, pod: pod_pb2.Pod) -> None:
        if pod.status.phase in TERMINAL:
            self.remove_pod(pod)
            return
        uid = pod.metadata.uid
        current = self._pods.get(uid)
        if current is not None:
            if uid in self._assumed:
                del self._assumed[uid]  # confirmed by the informer
            if current[0].pod is pod:
                return
            self._remove_uid(uid)
        self._place(PodInfo.of(pod), pod.spec.node_name)

    def update_pod(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if new.status.phase in TERMINAL:
            self.remove_pod(new)
            return
        current = self._pods.get(new.metadata.uid)
        if (
            current is not None
            and new.metadata.uid not in self._assumed
            and current[1] == new.spec.node_name
            and old.metadata.labels == new.metadata.labels
            and old.spec == new.spec
        ):
            current[0].pod = new  # status-only change: sums are unchanged
            return
        self.add_pod(new)

    def remove_pod(self, pod: pod_pb2.Pod) -> None:
        uid = pod.metadata.uid
        self._assumed.pop(uid, None)
        self._remove_uid(uid)

    def _place(self, pi: PodInfo, node: str) -> None:
        info = self._nodes.get(node)
        if info is None:
            info = self._nodes[node] = NodeInfo()
        info.add_pod(pi)
        self._pods[pi.uid] = (pi, node)
        self._dirty.add(node)

    def _remove_uid(self, uid: str) -> None:
        entry = self._pods.pop(uid, None)
        if entry is None:
            return
        _, node = entry
        info = self._nodes.get(node)
        if info is not None:
            info.remove_pod(uid)
            self._dirty.add(node)
            if info.node is None and not info.pods:
                del self._nodes[node]

    # -- assume / forget -------------------------------------------------------------------------------
    def assume(self, pi: PodInfo, node: str) -> None:
        if pi.uid in self._pods:
            raise ValueError(f"pod {pi.key} is already in the cache")
        self._place(pi, node)
        self._assumed[pi.uid] = None

    def finish_binding(self, pi: PodInfo) -> None:
        if pi.uid in self._assumed:
            self._assumed[pi.uid] = time.monotonic() + self.ttl

    def forget(self, pi: PodInfo) -> None:
        if pi.uid in self._assumed:
            del self._assumed[pi.uid]
            self._remove_uid(pi.uid)

    def is_assumed(self, uid: str) -> bool:
        return uid in self._assumed

    def cleanup_expired(self) -> None:
        now = time.monotonic()
        for uid, deadline in list(self._assumed.items()):
            if deadline is not None and now > deadline:
                log.warning("cache.assumed_expired", uid=uid)
                del self._assumed[uid]
                self._remove_uid(uid)

    # -- snapshot --------------------------------------------------------------------------------------
    def node_count(self) -> int:
        return len(self._order)

    def update_snapshot(self, snap: Snapshot) -> None:
        """Bring ``snap`` up to date, cloning only NodeInfos that changed since the last call."""
        if not self._dirty and not self._nodes_changed:
            return
        affinity_may_change = False
        for name in self._dirty:
            old = snap.by_name.get(name)
            info = self._nodes.get(name)
            if info is None or info.node is None:
                snap.by_name.pop(name, None)
                affinity_may_change = True
                continue
            clone = info.clone()
            if old is not None and (old.pods_with_affinity or clone.pods_with_affinity):
                affinity_may_change = True
            elif old is None and clone.pods_with_affinity:
                affinity_may_change = True
            snap.by_name[name] = clone
        if self._nodes_changed:
            snap.nodes = [snap.by_name[n] for n in self._order if n in snap.by_name]
            snap.positions = {n.name: i for i, n in enumerate(snap.nodes)}
            snap.image_nodes = {img: len(nodes) for img, nodes in self._images.items()}
            affinity_may_change = True
        else:
            for name in self._dirty:
                i = snap.positions.get(name)
                if i is not None and name in snap.by_name:
                    snap.nodes[i] = snap.by_name[name]
        if affinity_may_change:
            snap.with_affinity = [n for n in snap.nodes if n.pods_with_affinity]
            snap.with_required_anti_affinity = [n for n in snap.nodes if n.pods_with_required_anti_affinity]
        self._dirty.clear()
        self._nodes_changed = False
