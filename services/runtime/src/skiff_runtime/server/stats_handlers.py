"""ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats (cgroup data via the executor)."""

from __future__ import annotations

import time
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_runtime.containers.manager import decode_config
from skiff_runtime.oci.errors import ExecutorError
from skiff_runtime.runtime import Runtime, StatsSample
from skiff_runtime.sandbox.manager import decode_config as decode_sandbox
from skiff_runtime.server import convert
from skiff_runtime.store.container import RUNNING, ContainerRecord


class StatsHandlers:
    runtime: Runtime

    async def _stats(self, record: ContainerRecord) -> cri.ContainerStats:
        config = decode_config(record)
        now = time.time_ns()
        out = cri.ContainerStats(
            attributes=cri.ContainerAttributes(
                id=record.id, metadata=config.metadata, labels=config.labels, annotations=config.annotations
            )
        )
        used, inodes = self.runtime.snapshots.writable_usage(record.id)
        out.writable_layer.timestamp = now
        out.writable_layer.fs_id.mountpoint = str(self.runtime.snapshots.active)
        out.writable_layer.used_bytes.value, out.writable_layer.inodes_used.value = used, inodes
        if record.state != RUNNING:
            return out
        try:
            stats = await self.runtime.executor.stats(record.id)
        except (ExecutorError, OSError):
            return out
        at = int(stats.timestamp * 1e9)
        out.cpu.timestamp = at
        out.cpu.usage_core_nano_seconds.value = stats.cpu_usage_ns
        previous = self.runtime.cpu_samples.get(record.id)
        if previous is not None and at > previous.at_ns and stats.cpu_usage_ns >= previous.cpu_ns:
            out.cpu.usage_nano_cores.value = (stats.cpu_usage_ns - previous.cpu_ns) * 10**9 // (at - previous.at_ns)
        self.runtime.cpu_samples[record.id] = StatsSample(stats.cpu_usage_ns, at)
        out.memory.timestamp = at
        out.memory.working_set_bytes.value = stats.memory_working_set_bytes
        out.memory.usage_bytes.value = stats.memory_usage_bytes
        return out

    async def ContainerStats(self, request: cri.ContainerStatsRequest, context: Any) -> cri.ContainerStatsResponse:
        record = await self.runtime.containers.get(request.container_id)
        return cri.ContainerStatsResponse(stats=await self._stats(record))

    async def ListContainerStats(
        self, request: cri.ListContainerStatsRequest, context: Any
    ) -> cri.ListContainerStatsResponse:
        f = request.filter
        out = []
        for record in await self.runtime.containers.list_all():
            if record.state != RUNNING or (f.id and not record.id.startswith(f.id)):
                continue
            if f.pod_sandbox_id and not record.sandbox_id.startswith(f.pod_sandbox_id):
                continue
            stats = await self._stats(record)
            if convert.labels_match(stats.attributes.labels, f.label_selector):
                out.append(stats)
        return cri.ListContainerStatsResponse(stats=out)

    async def _pod_stats(self, sandbox_id: str) -> cri.PodSandboxStats:
        record = self.runtime.sandboxes.store.get(sandbox_id)
        config = decode_sandbox(record)
        containers = [
            await self._stats(c)
            for c in await self.runtime.containers.list_all()
            if c.sandbox_id == record.id and c.state == RUNNING
        ]
        now = time.time_ns()
        linux = cri.LinuxPodSandboxStats(containers=containers)
        linux.cpu.timestamp = linux.memory.timestamp = linux.process.timestamp = now
        linux.cpu.usage_core_nano_seconds.value = sum(c.cpu.usage_core_nano_seconds.value for c in containers)
        linux.cpu.usage_nano_cores.value = sum(c.cpu.usage_nano_cores.value for c in containers)
        linux.memory.working_set_bytes.value = sum(c.memory.working_set_bytes.value for c in containers)
        linux.memory.usage_bytes.value = sum(c.memory.usage_bytes.value for c in containers)
        return cri.PodSandboxStats(
            attributes=cri.PodSandboxAttributes(
                id=record.id, metadata=config.metadata, labels=config.labels, annotations=config.annotations
            ),
            linux=linux,
        )

    async def PodSandboxStats(self, request: cri.PodSandboxStatsRequest, context: Any) -> cri.PodSandboxStatsResponse:
        return cri.PodSandboxStatsResponse(stats=await self._pod_stats(request.pod_sandbox_id))

    async def ListPodSandboxStats(
        self, request: cri.ListPodSandboxStatsRequest, context: Any
    ) -> cri.ListPodSandboxStatsResponse:
        f = request.filter
        out = []
        for record in self.runtime.sandboxes.store.list():
            if f.id and not record.id.startswith(f.id):
                continue
            stats = await self._pod_stats(record.id)
            if convert.labels_match(stats.attributes.labels, f.label_selector):
                out.append(stats)
        return cri.ListPodSandboxStatsResponse(stats=out)
