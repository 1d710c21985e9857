"""ExecSync, and the streaming Exec/Attach/PortForward: validate, then a one-time URL on the streaming server."""

from __future__ import annotations

from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import BadRequest

from skiff_runtime.runtime import Runtime
from skiff_runtime.streaming import validate


class ExecHandlers:
    runtime: Runtime

    async def ExecSync(self, request: cri.ExecSyncRequest, context: Any) -> cri.ExecSyncResponse:
        if not request.container_id:
            raise BadRequest("container_id: Required value")
        if request.timeout < 0:
            raise BadRequest("timeout: Invalid value: must not be negative")
        code, out, err = await self.runtime.containers.exec_sync(
            request.container_id, list(request.cmd), float(request.timeout)
        )
        return cri.ExecSyncResponse(stdout=out, stderr=err, exit_code=code)

    async def Exec(self, request: cri.ExecRequest, context: Any) -> cri.ExecResponse:
        target = await validate.exec_target(self.runtime.containers, request)
        return cri.ExecResponse(url=await self.runtime.streaming.url_for(target))

    async def Attach(self, request: cri.AttachRequest, context: Any) -> cri.AttachResponse:
        target = await validate.attach_target(self.runtime.containers, request)
        return cri.AttachResponse(url=await self.runtime.streaming.url_for(target))

    async def PortForward(self, request: cri.PortForwardRequest, context: Any) -> cri.PortForwardResponse:
        target = validate.port_forward_target(self.runtime.sandboxes.store, request)
        return cri.PortForwardResponse(url=await self.runtime.streaming.url_for(target))
