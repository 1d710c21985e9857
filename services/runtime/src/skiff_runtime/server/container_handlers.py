"""CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers, ContainerStatus,
UpdateContainerResources, ReopenContainerLog."""

from __future__ import annotations

import json
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import BadRequest

from skiff_runtime.runtime import Runtime
from skiff_runtime.server import convert


def _require(container_id: str) -> None:
    if not container_id:
        raise BadRequest("container_id: Required value")


class ContainerHandlers:
    runtime: Runtime

    async def CreateContainer(self, request: cri.CreateContainerRequest, context: Any) -> cri.CreateContainerResponse:
        container_id = await self.runtime.containers.create(
            request.pod_sandbox_id, request.config, request.sandbox_config
        )
        return cri.CreateContainerResponse(container_id=container_id)

    async def StartContainer(self, request: cri.StartContainerRequest, context: Any) -> cri.StartContainerResponse:
        _require(request.container_id)
        await self.runtime.containers.start(request.container_id)
        return cri.StartContainerResponse()

    async def StopContainer(self, request: cri.StopContainerRequest, context: Any) -> cri.StopContainerResponse:
        _require(request.container_id)
        if request.timeout < 0:
            raise BadRequest("timeout: Invalid value: must not be negative")
        await self.runtime.containers.stop(request.container_id, float(request.timeout))
        return cri.StopContainerResponse()

    async def RemoveContainer(self, request: cri.RemoveContainerRequest, context: Any) -> cri.RemoveContainerResponse:
        _require(request.container_id)
        await self.runtime.containers.remove(request.container_id)
        return cri.RemoveContainerResponse()

    async def ListContainers(self, request: cri.ListContainersRequest, context: Any) -> cri.ListContainersResponse:
        f = request.filter
        out = []
        for record in await self.runtime.containers.list_all():
            item = convert.container(record)
            if f.id and not record.id.startswith(f.id):
                continue
            if f.pod_sandbox_id and not record.sandbox_id.startswith(f.pod_sandbox_id):
                continue
            if f.HasField("state") and item.state != f.state.state:
                continue
            if not convert.labels_match(item.labels, f.label_selector):
                continue
            out.append(item)
        out.sort(key=lambda c: c.created_at)
        return cri.ListContainersResponse(containers=out)

    async def ContainerStatus(self, request: cri.ContainerStatusRequest, context: Any) -> cri.ContainerStatusResponse:
        _require(request.container_id)
        record = await self.runtime.containers.get(request.container_id)
        response = cri.ContainerStatusResponse(status=convert.container_status(record))
        if request.verbose:
            response.info["info"] = json.dumps(
                {
                    "pid": record.pid,
                    "sandboxID": record.sandbox_id,
                    "bundle": record.bundle,
                    "cgroupsPath": record.cgroups_path,
                }
            )
        return response

    async def UpdateContainerResources(
        self, request: cri.UpdateContainerResourcesRequest, context: Any
    ) -> cri.UpdateContainerResourcesResponse:
        _require(request.container_id)
        await self.runtime.containers.update_resources(request.container_id, request.linux)
        return cri.UpdateContainerResourcesResponse()

    async def ReopenContainerLog(
        self, request: cri.ReopenContainerLogRequest, context: Any
    ) -> cri.ReopenContainerLogResponse:
        _require(request.container_id)
        await self.runtime.containers.reopen_log(request.container_id)
        return cri.ReopenContainerLogResponse()
