"""Node lifecycle controller: silent kubelets make Unknown nodes, conditions make taints, NoExecute
taints evict pods.

reconcile(node name), level-triggered and requeued for the next moment something is due:

    1. health   heard from the kubelet (status heartbeat or kube-node-lease Lease renewal, see
                health.py) within --node-monitor-grace-period?  no -> kubelet conditions Unknown,
                NodeNotReady event, pods on the node marked Ready=False
    2. taints   the node's managed taints follow its conditions and spec (taints.py): not-ready /
                unreachable NoSchedule+NoExecute, pressure and unschedulable NoSchedule
    3. evict    each pod on the node whose NoExecute tolerations ran out (eviction.py) is deleted,
                with a TaintManagerEviction event; the next due pod sets requeue_after

Kubernetes splits 3 into a separate taint-eviction controller; here it is one reconcile per node,
because both read the same node and pods and the eviction clock lives on the taint (timeAdded).
A node that comes back (Ready=True from the kubelet) loses its not-ready/unreachable taints in step 2,
which stops any eviction not yet done.
"""

from __future__ import annotations

import copy
import time

from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import object_key
from skiff_client.events import now_timestamp
from skiff_common import errors
from skiff_common.observability import get_logger

from skiff_controllers.base import Controller, ControllerContext, Result
from skiff_controllers.nodelifecycle import taints
from skiff_controllers.nodelifecycle.eviction import eviction_time
from skiff_controllers.nodelifecycle.health import HealthTracker, heartbeat_signature, lease_signature, mark_unknown

log = get_logger(__name__)

LEASE_NAMESPACE = "kube-node-lease"
NODE_INDEX = "nodelifecycle.nodeName"


def _pod_node(pod: pod_pb2.Pod) -> list[str]:
    return [pod.spec.node_name] if pod.spec.node_name else []


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 2

    def __init__(self, ctx: ControllerContext, *, grace_period: float | None = None) -> None:
        super().__init__(ctx)
        self.grace = grace_period if grace_period is not None else ctx.config.node_monitor_grace_period
        self.health = HealthTracker()
        self._registered: set[str] = set()
        self.nodes = ctx.factory.informer(node_pb2.Node)
        self.leases = ctx.factory.informer(lease_pb2.Lease, LEASE_NAMESPACE)
        self.pods = ctx.factory.informer(pod_pb2.Pod)
        if not self.pods.store.has_indexer(NODE_INDEX):
            self.pods.add_indexer(NODE_INDEX, _pod_node)
        self.nodes.add_handler(
            on_add=self._node_seen, on_update=lambda _o, n: self._node_seen(n), on_delete=self._node_gone
        )
        self.leases.add_handler(on_add=self._lease_seen, on_update=lambda _o, n: self._lease_seen(n))
        self.pods.add_handler(on_add=self._pod_seen, on_update=self._pod_updated)

    # -- handlers: record what was seen and enqueue the node -----------------------------------------------
    def _node_seen(self, node: node_pb2.Node) -> None:
        self.health.observe(node.metadata.name, now=time.monotonic(), status=heartbeat_signature(node))
        self.queue.add(node.metadata.name)

    def _node_gone(self, node: node_pb2.Node) -> None:
        self.health.forget(node.metadata.name)
        self._registered.discard(node.metadata.name)

    def _lease_seen(self, lease: lease_pb2.Lease) -> None:
        name = lease.metadata.name
        if self.nodes.store.get(name) is None:
            return  # a lease for a node not (yet) known: the node's own add starts its clock
        self.health.observe(name, now=time.monotonic(), lease=lease_signature(lease))
        self.queue.add(name)

    def _pod_seen(self, pod: pod_pb2.Pod) -> None:
        if pod.spec.node_name:
            self.queue.add(pod.spec.node_name)

    def _pod_updated(self, old: pod_pb2.Pod, new: pod_pb2.Pod) -> None:
        if new.spec.node_name and (
            old.spec.node_name != new.spec.node_name or old.spec.tolerations != new.spec.tolerations
        ):
            self.queue.add(new.spec.node_name)

    # -- reconcile ----------------------------------------------------------------------------------------
    async def reconcile(self, key: str) -> Result | None:
        cached = self.nodes.store.get(key)
        if cached is None:
            return None
        node: node_pb2.Node = copy.deepcopy(cached)
        if key not in self._registered:
            self._registered.add(key)
            self.ctx.events.record(
                node, "Normal", "RegisteredNode", f"Node {key} event: Registered Node {key} in Controller"
            )
        probe = self.health.probe_time(key)
        if probe is None:
            probe = self.health.observe(key, now=time.monotonic(), status=heartbeat_signature(node))
        silent_for = time.monotonic() - probe
        waits: list[float] = []
        if silent_for > self.grace:
            node = await self._mark_unknown(node)
        else:
            waits.append(self.grace - silent_for + 0.05)
        node = await self._sync_taints(node)
        if taints.condition(node, "Ready") == "Unknown":
            await self._mark_pods_not_ready(node)
        next_eviction = await self._evict(node)
        if next_eviction is not None:
            waits.append(next_eviction)
        return Result(requeue_after=min(waits)) if waits else None

    async def _mark_unknown(self, node: node_pb2.Node) -> node_pb2.Node:
        was_ready = taints.condition(node, "Ready") == "True"
        if not mark_unknown(node, now_timestamp()):
            return node
        log.info("node.unknown", node=node.metadata.name, grace=self.grace)
        updated = await self.api.update_status(node)
        if was_ready:
            self.ctx.events.record(
                updated, "Normal", "NodeNotReady", f"Node {node.metadata.name} status is now: NodeNotReady"
            )
        return updated

    async def _sync_taints(self, node: node_pb2.Node) -> node_pb2.Node:
        new = taints.reconcile_taints(node, int(time.time()))
        if new is None:
            return node
        before = {(t.key, t.effect) for t in node.spec.taints}
        del node.spec.taints[:]
        node.spec.taints.extend(new)
        updated = await self.api.update(node)
        after = {(t.key, t.effect) for t in updated.spec.taints}
        log.info("node.taints", node=node.metadata.name, added=sorted(after - before), removed=sorted(before - after))
        if taints.condition(updated, "Ready") == "True" and before & {
            (taints.NOT_READY, "NoExecute"),
            (taints.UNREACHABLE, "NoExecute"),
        }:
            self.ctx.events.record(
                updated, "Normal", "NodeReady", f"Node {node.metadata.name} status is now: NodeReady"
            )
        return updated

    def _pods_on(self, node: node_pb2.Node) -> list[pod_pb2.Pod]:
        return [
            p
            for p in self.pods.store.by_index(NODE_INDEX, node.metadata.name)
            if not p.metadata.HasField("deletion_timestamp") and p.status.phase not in ("Succeeded", "Failed")
        ]

    async def _mark_pods_not_ready(self, node: node_pb2.Node) -> None:
        """The kubelet cannot say its pods are not ready any more: say it for it (MarkPodsNotReady)."""
        for pod in self._pods_on(node):
            ready = next((c for c in pod.status.conditions if c.type == "Ready"), None)
            if ready is None or ready.status == "False":
                continue
            updated = copy.deepcopy(pod)
            for c in updated.status.conditions:
                if c.type == "Ready":
                    c.status = "False"
                    c.last_transition_time.CopyFrom(now_timestamp())
            try:
                await self.api.update_status(updated)
            except (errors.NotFound, errors.Conflict):
                continue  # gone, or changed: the informer brings it back here
            self.ctx.events.record(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _evict(self, node: node_pb2.Node) -> float | None:
        """Delete pods whose NoExecute tolerations ran out; seconds until the next one is due."""
        no_exec = taints.no_execute(node.spec.taints)
        if not no_exec:
            return None
        now = time.time()
        nearest: float | None = None
        for pod in self._pods_on(node):
            at = eviction_time(pod.spec.tolerations, no_exec, now)
            if at is None:
                continue
            if at > now:
                nearest = at - now if nearest is None else min(nearest, at - now)
                continue
            try:
                await self.api.delete(
                    pod_pb2.Pod, pod.metadata.name, pod.metadata.namespace, preconditions_uid=pod.metadata.uid
                )
            except errors.NotFound:
                continue
            except errors.FailedPrecondition:
                continue  # a new pod with that name: not the one we judged
            log.info("pod.evicted", pod=object_key(pod), node=node.metadata.name)
            self.ctx.events.record(pod, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {object_key(pod)}")
        return None if nearest is None else nearest + 0.05
