"""ExecSync, and the streaming Exec/Attach/PortForward (not offered yet: UNIMPLEMENTED, as CRI allows)."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import BadRequest

from skiff_runtime.runtime import Runtime


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

    async def Exec(
        self, request: cri.ExecRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> cri.ExecResponse:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, "streaming exec is not implemented by skiff-runtime yet"
        )
        raise AssertionError("unreachable")

    async def Attach(
        self, request: cri.AttachRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> cri.AttachResponse:
        await context.abort(grpc.StatusCode.UNIMPLEMENTED, "attach is not implemented by skiff-runtime yet")
        raise AssertionError("unreachable")

    async def PortForward(
        self, request: cri.PortForwardRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> cri.PortForwardResponse:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED, "port-forward is not implemented by skiff-runtime yet"
        )
        raise AssertionError("unreachable")
