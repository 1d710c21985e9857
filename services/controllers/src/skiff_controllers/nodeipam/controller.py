"""Node IPAM: every Node gets a spec.podCIDR from the cluster CIDR, as kube-controller-manager's
--allocate-node-cidrs with the RangeAllocator.

A Node without spec.podCIDR is given the lowest free node subnet (written once: Kubernetes makes
podCIDR immutable once set); a deleted Node's range goes back to the pool. The pool is rebuilt from the
informer's list before any allocation (the loop waits for the cache), so a restarted controller never
hands out a range a Node already holds. The kubelet passes its Node's podCIDR to the runtime, whose CNI
network then uses it; routes between nodes follow the same ranges. A full cluster CIDR leaves the Node
without a range and records a CIDRNotAvailable event, as upstream.
"""

from __future__ import annotations

from skiff.api.core.v1 import node_pb2
from skiff_common import errors

from skiff_controllers.base import Controller, ControllerContext, Result
from skiff_controllers.nodeipam.allocator import CIDRAllocator

RETRY_FULL_SECONDS = 30.0


class NodeIPAMController(Controller):
    name = "nodeipam"
    workers = 1  # allocation is a read-modify-write of one pool

    def __init__(
        self, ctx: ControllerContext, *, cluster_cidr: str | None = None, mask_size: int | None = None
    ) -> None:
        super().__init__(ctx)
        cfg = ctx.config
        self.enabled = cfg.allocate_node_cidrs or cluster_cidr is not None
        self.allocator = CIDRAllocator(cluster_cidr or cfg.cluster_cidr, mask_size or cfg.node_cidr_mask_size)
        self.nodes = ctx.factory.informer(node_pb2.Node)
        self.nodes.add_handler(on_add=self._seen, on_update=lambda _o, n: self._seen(n), on_delete=self._gone)
        self._occupied = False

    def _seen(self, node: node_pb2.Node) -> None:
        if node.spec.pod_cidr:
            self.allocator.occupy(node.spec.pod_cidr)
        elif self.enabled:
            self.queue.add(node.metadata.name)

    def _gone(self, node: node_pb2.Node) -> None:
        if node.spec.pod_cidr:
            self.allocator.release(node.spec.pod_cidr)
            if self.enabled:  # a Node waiting for a range may have one now
                for waiting in self.nodes.store.list():
                    if not waiting.spec.pod_cidr:
                        self.queue.add(waiting.metadata.name)

    async def reconcile(self, key: str) -> Result | None:
        if not self._occupied:  # the cache has synced: every range in use is known before the first pick
            for node in self.nodes.store.list():
                if node.spec.pod_cidr:
                    self.allocator.occupy(node.spec.pod_cidr)
            self._occupied = True
        cached = self.nodes.store.get(key)
        if cached is None or cached.spec.pod_cidr:
            return None
        cidr = self.allocator.allocate()
        if cidr is None:
            self.ctx.events.record(cached, "Warning", "CIDRNotAvailable", f"Node {key} status is now: CIDRNotAvailable")
            return Result(requeue_after=RETRY_FULL_SECONDS)
        patch: dict[str, object] = {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
        try:
            fresh = await self.api.get(node_pb2.Node, key)
            if fresh.spec.pod_cidr:  # someone else (the kubelet's --pod-cidr) set it meanwhile
                self.allocator.release(cidr)
                self.allocator.occupy(fresh.spec.pod_cidr)
                return None
            patch["metadata"] = {"resourceVersion": fresh.metadata.resource_version}
            await self.api.patch(node_pb2.Node, key, "", patch)
        except errors.NotFound:
            self.allocator.release(cidr)
            return None
        except Exception:
            self.allocator.release(cidr)
            raise
        return None


def new_nodeipam(ctx: ControllerContext) -> NodeIPAMController:
    return NodeIPAMController(ctx)
