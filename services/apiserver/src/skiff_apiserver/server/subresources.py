"""Bind (pods/binding), GetScale and UpdateScale (deployments/replicasets scale)."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb

from skiff_apiserver.machinery import kinds
from skiff_apiserver.server.base import Handlers, pack, resource_of, rpc

_PODS = kinds.lookup_resource("pods")


def _res(req: object) -> str:
    return str(req.resource)  # type: ignore[attr-defined]


class SubresourceHandlers(Handlers):
    @rpc("bind", lambda _: "pods")
    async def Bind(self, request: pb.BindRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.BindResponse:
        b = request.binding
        self.gate.check_resource("create", _PODS, b.metadata.namespace or "default", b.metadata.name, "binding")
        obj = await self.registry.bind(request.binding)
        return pb.BindResponse(object=pack(obj))

    @rpc("get_scale", _res)
    async def GetScale(
        self, request: pb.GetScaleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.GetScaleResponse:
        info = resource_of(request.resource)
        self.gate.check_resource("get", info, request.namespace, request.name, "scale")
        scale = await self.registry.get_scale(request.resource, request.namespace, request.name)
        return pb.GetScaleResponse(scale=scale)

    @rpc("update_scale", _res)
    async def UpdateScale(
        self, request: pb.UpdateScaleRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.UpdateScaleResponse:
        info, m = resource_of(request.resource), request.scale.metadata
        self.gate.check_resource("update", info, m.namespace or "default", m.name, "scale")
        scale = await self.registry.update_scale(request.resource, request.scale)
        return pb.UpdateScaleResponse(scale=scale)
