"""Hollow nodes: Node objects a real control plane cannot tell from kubelets, without containers.

Each hollow node is registered like a kubelet registers (Node with labels, taints, capacity and
allocatable, Ready condition, addresses, nodeInfo), renews its Lease in kube-node-lease every
``lease_period`` seconds (kubelet's default 10 s: that is what the node lifecycle controller reads) and
re-posts its status every ``status_period`` seconds (the kubelet's nodeStatusReportFrequency, 5 min).
Renewals are spread evenly over the period, so N nodes cost N / period writes per second, not bursts.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import namespace_pb2, node_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.events import now_timestamp
from skiff_common import errors

LEASE_NS = "kube-node-lease"
ZONE, REGION, HOSTNAME = "topology.kubernetes.io/zone", "topology.kubernetes.io/region", "kubernetes.io/hostname"


@dataclass
class NodeShape:
    cpu: str = "4"
    memory: str = "32Gi"
    pods: str = "110"
    zones: int = 3
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[tuple[str, str, str]] = field(default_factory=list)  # applied to every ``taint_every``-th node
    taint_every: int = 0
    extended: dict[str, str] = field(default_factory=dict)  # e.g. {"example.com/gpu": "4"}


def node_object(name: str, index: int, shape: NodeShape) -> node_pb2.Node:
    node = node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name))
    labels = node.metadata.labels
    labels.update(
        {HOSTNAME: name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "skiff.io/hollow": "true"}
    )
    if shape.zones:
        labels[ZONE] = f"zone-{index % shape.zones}"
        labels[REGION] = "region-0"
    labels.update(shape.labels)
    if shape.taint_every and index % shape.taint_every == 0:
        for key, value, effect in shape.taints:
            node.spec.taints.add(key=key, value=value, effect=effect)
    return node


def fill_status(node: node_pb2.Node, shape: NodeShape) -> None:
    st = node.status
    for k, v in (("cpu", shape.cpu), ("memory", shape.memory), ("pods", shape.pods), *shape.extended.items()):
        st.capacity[k].value = v
        st.allocatable[k].value = v
    now = now_timestamp()
    del st.conditions[:]
    for ctype, status, reason in (
        ("Ready", "True", "KubeletReady"),
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
    ):
        st.conditions.add(type=ctype, status=status, reason=reason, last_heartbeat_time=now, last_transition_time=now)
    del st.addresses[:]
    st.addresses.add(type="Hostname", address=node.metadata.name)
    st.node_info.kubelet_version = "v1.31.0-hollow"
    st.node_info.operating_system, st.node_info.architecture = "linux", "amd64"
    st.node_info.container_runtime_version = "hollow://0"


class HollowNodes:
    def __init__(
        self,
        api: ApiClient,
        count: int,
        *,
        prefix: str = "hollow",
        shape: NodeShape | None = None,
        lease_period: float = 10.0,
        status_period: float = 300.0,
        concurrency: int = 32,
    ) -> None:
        self.api = api
        self.names = [f"{prefix}-{i:05d}" for i in range(count)]
        self.name_set = frozenset(self.names)
        self.shape = shape or NodeShape()
        self.lease_period = lease_period
        self.status_period = status_period
        self.sem = asyncio.Semaphore(concurrency)
        self.lease_writes = 0
        self.lease_failures = 0
        self.status_writes = 0
        self.max_lease_lag = 0.0  # worst delay of a renewal behind its schedule (s)
        self._leases: dict[str, lease_pb2.Lease] = {}

    async def register(self) -> None:
        await self._ensure_namespace()
        await asyncio.gather(*(self._register(i, n) for i, n in enumerate(self.names)))

    async def _ensure_namespace(self) -> None:
        try:
            await self.api.create(
                namespace_pb2.Namespace(api_version="v1", kind="Namespace", metadata=meta_pb2.ObjectMeta(name=LEASE_NS))
            )
        except errors.AlreadyExists:
            pass

    async def _register(self, index: int, name: str) -> None:
        async with self.sem:
            try:
                node = await self.api.create(node_object(name, index, self.shape))
            except errors.AlreadyExists:
                node = await self.api.get(node_pb2.Node, name)
            fill_status(node, self.shape)
            await self.api.update_status(node)
            self.status_writes += 1
            await self._renew(name)

    async def _renew(self, name: str) -> None:
        lease = self._leases.get(name)
        now = now_timestamp()
        try:
            if lease is None:
                lease = lease_pb2.Lease(
                    api_version="coordination.k8s.io/v1",
                    kind="Lease",
                    metadata=meta_pb2.ObjectMeta(name=name, namespace=LEASE_NS),
                )
                lease.spec.holder_identity = name
                lease.spec.lease_duration_seconds = 40
                lease.spec.renew_time.CopyFrom(now)
                try:
                    lease = await self.api.create(lease)
                except errors.AlreadyExists:
                    lease = await self.api.get(lease_pb2.Lease, name, LEASE_NS)
                    lease.spec.renew_time.CopyFrom(now)
                    lease = await self.api.update(lease)
            else:
                lease.spec.renew_time.CopyFrom(now)
                lease = await self.api.update(lease)
            self._leases[name] = lease
            self.lease_writes += 1
        except errors.Conflict:
            self._leases.pop(name, None)  # re-read next time
            self.lease_failures += 1
        except errors.SkiffError:
            self.lease_failures += 1

    async def run_leases(self) -> None:
        """Renew every node's Lease once per period, spread evenly; record how far renewals fall behind."""
        n = len(self.names)
        step = self.lease_period / max(1, n)
        loop = asyncio.get_running_loop()
        start = loop.time()
        i = 0
        tasks: set[asyncio.Task[None]] = set()
        while True:
            due = start + i * step
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self.max_lease_lag = max(self.max_lease_lag, -delay)
            name = self.names[i % n]
            if len(tasks) < 256:
                t = asyncio.create_task(self._renew(name))
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            else:
                self.lease_failures += 1  # the apiserver is not keeping up: a skipped renewal
            i += 1

    async def run_status(self) -> None:
        while True:
            await asyncio.sleep(self.status_period)
            for name in self.names:
                async with self.sem:
                    try:
                        node = await self.api.get(node_pb2.Node, name)
                        fill_status(node, self.shape)
                        await self.api.update_status(node)
                        self.status_writes += 1
                    except errors.SkiffError:
                        pass

    async def delete_all(self) -> None:
        async def one(name: str) -> None:
            async with self.sem:
                for cls, ns in ((node_pb2.Node, ""), (lease_pb2.Lease, LEASE_NS)):
                    try:
                        await self.api.delete(cls, name, ns)
                    except errors.SkiffError:
                        pass

        await asyncio.gather(*(one(n) for n in self.names))


def stamp() -> float:
    return time.time()
