"""RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox."""

from __future__ import annotations

import json
import time
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import BadRequest

from skiff_runtime.runtime import Runtime
from skiff_runtime.server import convert


class SandboxHandlers:
    runtime: Runtime

    async def RunPodSandbox(self, request: cri.RunPodSandboxRequest, context: Any) -> cri.RunPodSandboxResponse:
        sandbox_id = await self.runtime.sandboxes.run(request.config, request.runtime_handler)
        return cri.RunPodSandboxResponse(pod_sandbox_id=sandbox_id)

    async def StopPodSandbox(self, request: cri.StopPodSandboxRequest, context: Any) -> cri.StopPodSandboxResponse:
        _require(request.pod_sandbox_id)
        await self.runtime.sandboxes.stop(request.pod_sandbox_id)
        return cri.StopPodSandboxResponse()

    async def RemovePodSandbox(
        self, request: cri.RemovePodSandboxRequest, context: Any
    ) -> cri.RemovePodSandboxResponse:
        _require(request.pod_sandbox_id)
        await self.runtime.sandboxes.remove(request.pod_sandbox_id)
        return cri.RemovePodSandboxResponse()

    async def PodSandboxStatus(
        self, request: cri.PodSandboxStatusRequest, context: Any
    ) -> cri.PodSandboxStatusResponse:
        _require(request.pod_sandbox_id)
        record = self.runtime.sandboxes.store.get(request.pod_sandbox_id)
        response = cri.PodSandboxStatusResponse(status=convert.pod_sandbox_status(record), timestamp=time.time_ns())
        if request.verbose:
            response.info["info"] = json.dumps(
                {
                    "pid": record.pause_pid,
                    "netNamespacePath": record.netns_path,
                    "cgroupParent": record.cgroup_parent,
                    "hostname": record.hostname,
                    "runtimeHandler": record.runtime_handler,
                }
            )
        return response

    async def ListPodSandbox(self, request: cri.ListPodSandboxRequest, context: Any) -> cri.ListPodSandboxResponse:
        f = request.filter
        items = []
        for record in self.runtime.sandboxes.store.list():
            sandbox = convert.pod_sandbox(record)
            if f.id and not record.id.startswith(f.id):
                continue
            if f.HasField("state") and sandbox.state != f.state.state:
                continue
            if not convert.labels_match(sandbox.labels, f.label_selector):
                continue
            items.append(sandbox)
        items.sort(key=lambda s: s.created_at)
        return cri.ListPodSandboxResponse(items=items)


def _require(sandbox_id: str) -> None:
    if not sandbox_id:
        raise BadRequest("pod_sandbox_id: Required value")
