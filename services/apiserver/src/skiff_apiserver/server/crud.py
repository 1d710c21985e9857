"""Create, Get, List, Update, UpdateStatus (status, or another subresource: finalize, approval), Patch and
Delete."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_common import errors

from skiff_apiserver.auth import reviews, tokenrequest
from skiff_apiserver.machinery import KindInfo, kinds
from skiff_apiserver.registry.reads import ListOptions
from skiff_apiserver.server.base import Handlers, pack, resource_of, rpc, unpack

# The subresources UpdateStatus replaces, as REST PUT does: each a part of the object its strategy merges.
_UPDATABLE = ("status", "finalize", "approval")
_RESOURCE_BY_TYPE = {info.message.DESCRIPTOR.full_name: info.resource for info in kinds.ALL_KINDS}


def _kind_resource(req: object) -> str:
    """The resource of a request carrying an object, from its type URL (no decoding needed)."""
    return _RESOURCE_BY_TYPE.get(req.object.type_url.rpartition("/")[2], "")  # type: ignore[attr-defined]


def _namespace(info: KindInfo, obj: object) -> str:
    """The namespace a write lands in: the object's, "default" when a namespaced object names none."""
    return (obj.metadata.namespace or "default") if info.namespaced else ""  # type: ignore[attr-defined]


def _res(req: object) -> str:
    return str(req.resource)  # type: ignore[attr-defined]


class CrudHandlers(Handlers):
    @rpc("create", _kind_resource)
    async def Create(self, request: pb.CreateRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.CreateResponse:
        obj = unpack(request.object)
        if reviews.is_review(obj):  # access reviews are created and answered, never stored
            return pb.CreateResponse(object=pack(reviews.answer(self.gate, obj)))
        if tokenrequest.is_token_kind(obj):  # TokenRequest, TokenReview: likewise
            return pb.CreateResponse(object=pack(await tokenrequest.answer(self.gate, self.registry, obj)))
        info = kinds.kind_of(obj)
        self.gate.check_resource("create", info, _namespace(info, obj))
        packed = await self.registry.create_packed(obj, dry_run=request.dry_run)
        return pb.CreateResponse(object=packed)

    @rpc("get", _res)
    async def Get(self, request: pb.GetRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.GetResponse:
        info = resource_of(request.resource)
        self.gate.check_resource("get", info, request.namespace, request.name)
        obj = await self.registry.get(info, request.namespace, request.name, request.resource_version)
        return pb.GetResponse(object=pack(obj))

    @rpc("list", _res)
    async def List(self, request: pb.ListRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.ListResponse:
        info = resource_of(request.resource)
        self.gate.check_resource("list", info, request.namespace, field_selector=request.field_selector)
        items, meta = await self.registry.list(
            info,
            ListOptions(
                namespace=request.namespace,
                label_selector=request.label_selector,
                field_selector=request.field_selector,
                limit=request.limit,
                continue_token=request.continue_token,
                resource_version=request.resource_version,
            ),
        )
        return pb.ListResponse(metadata=meta, items=[pack(o) for o in items])

    @rpc("update", _kind_resource)
    async def Update(self, request: pb.UpdateRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.UpdateResponse:
        obj = unpack(request.object)
        info = kinds.kind_of(obj)
        self.gate.check_resource("update", info, _namespace(info, obj), obj.metadata.name)  # type: ignore[attr-defined]
        obj = await self.registry.update(obj, dry_run=request.dry_run)
        return pb.UpdateResponse(object=pack(obj))

    @rpc("update_status", _kind_resource)
    async def UpdateStatus(
        self, request: pb.UpdateStatusRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.UpdateStatusResponse:
        obj = unpack(request.object)
        info = kinds.kind_of(obj)
        name = obj.metadata.name  # type: ignore[attr-defined]
        sub = request.subresource or "status"
        if sub != "status" and (sub not in _UPDATABLE or sub not in info.subresources):  # status: the store says
            have = [s for s in info.subresources if s in _UPDATABLE]
            raise errors.BadRequest(f"subresource: {info.resource} has no {sub!r} to update (use one of {have})")
        self.gate.check_resource("update", info, _namespace(info, obj), name, sub)
        obj = await self.registry.update(obj, subresource=sub, dry_run=request.dry_run)
        return pb.UpdateStatusResponse(object=pack(obj))

    @rpc("patch", _res)
    async def Patch(self, request: pb.PatchRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.PatchResponse:
        info = resource_of(request.resource)
        self.gate.check_resource("patch", info, request.namespace, request.name, request.subresource)
        obj = await self.registry.patch(
            info,
            request.namespace,
            request.name,
            request.patch_type,
            request.patch,
            subresource=request.subresource,
            dry_run=request.dry_run,
        )
        return pb.PatchResponse(object=pack(obj))

    @rpc("delete", _res)
    async def Delete(self, request: pb.DeleteRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.DeleteResponse:
        info = resource_of(request.resource)
        self.gate.check_resource("delete", info, request.namespace, request.name)
        pre = request.preconditions
        obj = await self.registry.delete(
            info,
            request.namespace,
            request.name,
            grace=request.grace_period_seconds if request.HasField("grace_period_seconds") else None,
            propagation=request.propagation_policy,
            uid=pre.uid if pre.HasField("uid") else None,
            rv=pre.resource_version if pre.HasField("resource_version") else None,
            dry_run=request.dry_run,
        )
        return pb.DeleteResponse(object=pack(obj))
