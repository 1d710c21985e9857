"""Hollow pod lifecycle: what a kubelet reports, without running anything.

A pod bound to a hollow node goes Pending -> Running with Ready, ContainersReady, Initialized and
PodScheduled True, a pod IP from the node's range (a string only: no traffic is sent anywhere) and
running container statuses; a pod marked for deletion is confirmed (final delete, grace 0, with the
pod's UID as precondition), as the kubelet does once its containers stopped. Writes go through a
bounded pool of workers reading keys from a queue, so the pods informer's handlers never block.
"""

from __future__ import annotations

import asyncio
import time

from skiff.api.core.v1 import pod_pb2
from skiff_client import ApiClient, InformerFactory, object_key
from skiff_client.events import now_timestamp
from skiff_common import errors


class HollowPods:
    def __init__(self, api: ApiClient, nodes: frozenset[str], *, workers: int = 16) -> None:
        self.api = api
        self.nodes = nodes
        self.workers = workers
        self.factory = InformerFactory(api)
        self.informer = self.factory.informer(pod_pb2.Pod, field_selector="spec.nodeName!=")
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._node_index: dict[str, int] = {n: i for i, n in enumerate(sorted(nodes))}
        self.started = 0
        self.confirmed_deletes = 0
        self.bound_at: dict[str, float] = {}  # pod key -> when this node first saw it bound
        self.informer.add_handler(self._on, lambda _o, n: self._on(n), None)

    def _on(self, pod: pod_pb2.Pod) -> None:
        if pod.spec.node_name not in self.nodes:
            return
        key = object_key(pod)
        self.bound_at.setdefault(key, time.monotonic())
        needs = pod.metadata.HasField("deletion_timestamp") or pod.status.phase in ("", "Pending")
        if needs and key not in self._queued:
            self._queued.add(key)
            self.queue.put_nowait(key)

    async def run(self) -> None:
        self.factory.start()
        await asyncio.gather(*(self._worker() for _ in range(self.workers)))

    async def _worker(self) -> None:
        while True:
            key = await self.queue.get()
            self._queued.discard(key)
            pod = self.informer.store.get(key)
            if pod is None:
                continue
            try:
                if pod.metadata.HasField("deletion_timestamp"):
                    await self.api.delete(
                        pod_pb2.Pod,
                        pod.metadata.name,
                        pod.metadata.namespace,
                        grace_period_seconds=0,
                        preconditions_uid=pod.metadata.uid,
                    )
                    self.confirmed_deletes += 1
                elif pod.status.phase in ("", "Pending"):
                    await self.api.update_status(self._running(pod))
                    self.started += 1
            except (errors.NotFound, errors.Conflict):
                pass  # gone, or a newer version is on its way through the informer
            except errors.SkiffError:
                await asyncio.sleep(0.5)
                self._on(pod)

    def _running(self, pod: pod_pb2.Pod) -> pod_pb2.Pod:
        out = pod_pb2.Pod()
        out.CopyFrom(pod)
        st = out.status
        now = now_timestamp()
        st.phase = "Running"
        i = self._node_index.get(pod.spec.node_name, 0)
        n = len(self.informer.store)
        st.host_ip = f"10.{64 + i // 65536}.{(i // 256) % 256}.{i % 256}"
        st.pod_ip = f"10.{128 + (n // 65536) % 64}.{(n // 256) % 256}.{n % 256}"
        del st.pod_ips[:]
        st.pod_ips.add(ip=st.pod_ip)
        st.start_time.CopyFrom(now)
        conds = {c.type: c for c in st.conditions}
        for ctype in ("PodScheduled", "Initialized", "ContainersReady", "Ready"):
            c = conds.get(ctype)
            if c is None:
                c = st.conditions.add(type=ctype)
            if c.status != "True":
                c.status = "True"
                c.last_transition_time.CopyFrom(now)
        del st.container_statuses[:]
        for c in pod.spec.containers:
            cs = st.container_statuses.add(name=c.name, image=c.image, ready=True, restart_count=0, started=True)
            cs.state.running.started_at.CopyFrom(now)
            cs.container_id = f"hollow://{pod.metadata.uid[:12]}-{c.name}"
        st.qos_class = st.qos_class or "BestEffort"
        return out

    async def stop(self) -> None:
        await self.factory.stop()
