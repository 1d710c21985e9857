"""ListResources: discovery, generated from the kinds registry (never a hand-kept list)."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb

from skiff_apiserver.machinery import kinds
from skiff_apiserver.server.base import Handlers, rpc

VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")


class DiscoveryHandlers(Handlers):
    @rpc("list_resources", lambda _: "")
    async def ListResources(
        self, request: pb.ListResourcesRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListResourcesResponse:
        self.gate.check_path("get", "/apis")
        out = []
        for info in kinds.ALL_KINDS:
            subs = list(info.subresources)
            out.append(
                pb.ApiResource(
                    name=info.resource,
                    singular_name=info.singular,
                    kind=info.kind,
                    api_version=info.api_version,
                    namespaced=info.namespaced,
                    short_names=list(info.short_names),
                    verbs=list(VERBS),
                    subresources=subs,
                )
            )
        return pb.ListResourcesResponse(resources=out)
