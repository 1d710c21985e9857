"""One snapshot of the node's and its pods' resource usage, shared by every reader.

    /stats/summary ─┐
    /metrics/resource ─┼─> StatsProvider.get() ── fresh enough (< max_age)? ── yes ─> the cached Snapshot
    /metrics/cadvisor ─┘                               │ no (one collection at a time, others wait for it)
                                                       v
        CRI ListContainerStats (one call, every container) + /proc (node) + pod cgroups (pod network)

Collecting on demand rather than on a timer costs nothing when nobody reads; `max_age` bounds the cost
when many do (metrics pipeline, Prometheus, a curious user) to one collection per period whatever the
number of readers, and the CPU rates (`usageNanoCores`) are computed against the previous snapshot, so
they cover the time between two collections, as cAdvisor's housekeeping interval does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from prometheus_client import Histogram
from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client import CriClient, Informer
from skiff_client.cri import call

from skiff_kubelet import labels as L
from skiff_kubelet.eviction import local_storage
from skiff_kubelet.sandbox import pod_log_directory
from skiff_kubelet.stats import host

COLLECTION = Histogram(
    "kubelet_stats_collection_duration_seconds",
    "Wall time of one stats snapshot (CRI ListContainerStats, /proc, pod cgroups); _count is the number taken",
)


@dataclass
class ContainerSample:
    name: str
    id: str
    cpu_ns: int
    memory_working_set: int
    memory_usage: int
    rootfs_used: int
    rootfs_inodes: int
    start_time: str = ""
    nano_cores: int | None = None


@dataclass
class PodSample:
    namespace: str
    name: str
    uid: str
    start_time: str
    containers: list[ContainerSample] = field(default_factory=list)
    interfaces: list[host.Interface] = field(default_factory=list)
    logs_bytes: int = 0
    nano_cores: int | None = None
    volumes: dict[str, int] = field(default_factory=dict)  # local ephemeral volumes (du), as the Summary's
    etc_hosts: int = 0

    @property
    def cpu_ns(self) -> int:
        return sum(c.cpu_ns for c in self.containers)

    @property
    def memory_working_set(self) -> int:
        return sum(c.memory_working_set for c in self.containers)

    @property
    def memory_usage(self) -> int:
        return sum(c.memory_usage for c in self.containers)


@dataclass
class Snapshot:
    node_name: str
    timestamp: float  # wall clock, seconds
    node: host.NodeSample
    pods: list[PodSample]
    node_nano_cores: int | None = None
    memory_capacity: int = 0


def _rate(now_ns: int, now_t: float, before: tuple[int, float] | None) -> int | None:
    if before is None or now_t <= before[1] or now_ns < before[0]:
        return None
    return int((now_ns - before[0]) / (now_t - before[1]))


def _rfc3339(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds)) if seconds else ""


def _started(pod: pod_pb2.Pod) -> dict[str, str]:
    return {st.name: _rfc3339(st.state.running.started_at.seconds) for st in pod.status.container_statuses}


class StatsProvider:
    def __init__(
        self,
        cri_client: CriClient,
        pods: Informer[pod_pb2.Pod],
        *,
        node_name: str,
        cgroup_root: str,
        root_dir: str,
        pod_log_dir: str,
        memory_capacity: int = 0,
        max_age: float = 5.0,
    ) -> None:
        self.cri = cri_client
        self.pods = pods
        self.node_name = node_name
        self.cgroup_root = cgroup_root
        self.root_dir = root_dir
        self.pod_log_dir = pod_log_dir
        self.memory_capacity = memory_capacity
        self.max_age = max_age
        self.networks = host.PodNetworks(cgroup_root)
        self.latest: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._previous: dict[str, tuple[int, float]] = {}  # container id / pod uid / "" -> (cpu ns, time)
        self.collections = 0

    def _fresh(self) -> Snapshot | None:
        if self.latest is not None and time.time() - self.latest.timestamp < self.max_age:
            return self.latest
        return None

    async def get(self) -> Snapshot:
        fresh = self._fresh()
        if fresh is not None:
            return fresh
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None:
                return fresh
            with COLLECTION.time():
                self.latest = await self._collect()
            self.collections += 1
            return self.latest

    async def _collect(self) -> Snapshot:
        resp = await call(self.cri.runtime.ListContainerStats(cri.ListContainerStatsRequest()))
        by_uid: dict[str, list[cri.ContainerStats]] = {}
        for stats in resp.stats:
            uid = stats.attributes.labels.get(L.POD_UID)
            if uid:
                by_uid.setdefault(uid, []).append(stats)
        pods = [p for p in self.pods.store.list() if p.metadata.uid in by_uid]
        node, extra = await asyncio.to_thread(self._read_host, pods)
        now = time.time()
        previous, self._previous = self._previous, {}
        samples = []
        for pod in pods:
            started = _started(pod)
            sample = PodSample(
                namespace=pod.metadata.namespace,
                name=pod.metadata.name,
                uid=pod.metadata.uid,
                start_time=_rfc3339(pod.status.start_time.seconds),
                interfaces=extra[pod.metadata.uid][0],
                logs_bytes=extra[pod.metadata.uid][1],
                volumes=extra[pod.metadata.uid][2],
                etc_hosts=extra[pod.metadata.uid][3],
            )
            for stats in by_uid[pod.metadata.uid]:
                name = stats.attributes.metadata.name or stats.attributes.labels.get(L.CONTAINER_NAME, "")
                c = ContainerSample(
                    name=name,
                    id=stats.attributes.id,
                    cpu_ns=stats.cpu.usage_core_nano_seconds.value,
                    memory_working_set=stats.memory.working_set_bytes.value,
                    memory_usage=stats.memory.usage_bytes.value,
                    rootfs_used=stats.writable_layer.used_bytes.value,
                    rootfs_inodes=stats.writable_layer.inodes_used.value,
                    start_time=started.get(name, ""),
                )
                c.nano_cores = _rate(c.cpu_ns, now, previous.get(c.id))
                self._previous[c.id] = (c.cpu_ns, now)
                sample.containers.append(c)
            sample.containers.sort(key=lambda c: c.name)
            sample.nano_cores = _rate(sample.cpu_ns, now, previous.get(sample.uid))
            self._previous[sample.uid] = (sample.cpu_ns, now)
            samples.append(sample)
        snap = Snapshot(self.node_name, now, node, samples, memory_capacity=self.memory_capacity)
        snap.node_nano_cores = _rate(node.cpu_ns, now, previous.get(""))
        self._previous[""] = (node.cpu_ns, now)
        return snap

    def _read_host(
        self, pods: list[pod_pb2.Pod]
    ) -> tuple[host.NodeSample, dict[str, tuple[list[host.Interface], int, dict[str, int], int]]]:
        """Everything read from files, in one worker thread: the node, then each pod's network, logs and
        local volumes (walked as `du` does: only pods that have emptyDir or configMap volumes pay for it)."""
        node = host.node_sample(self.root_dir)
        extra = {
            p.metadata.uid: (
                self.networks.read(p.metadata.uid),
                host.log_usage(pod_log_directory(self.pod_log_dir, p)),
                *local_storage.volume_usage(p, self.root_dir),
            )
            for p in pods
        }
        self.networks.forget_except(set(extra))
        return node, extra
