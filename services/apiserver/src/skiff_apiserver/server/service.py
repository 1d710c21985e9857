"""The ApiServer servicer: the verb-group mixins combined."""

from __future__ import annotations

from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc

from skiff_apiserver.server.crud import CrudHandlers
from skiff_apiserver.server.discovery import DiscoveryHandlers
from skiff_apiserver.server.subresources import SubresourceHandlers
from skiff_apiserver.server.watch import WatchHandlers, serialize

SERVICE_NAME = "skiff.apiserver.v1.ApiServer"


class _Capture:
    """Stands in for a server to collect the generated method handlers."""

    def __init__(self) -> None:
        self.handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {}

    def add_generic_rpc_handlers(self, _handlers: object) -> None:
        pass

    def add_registered_method_handlers(self, _name: str, handlers: dict[str, grpc.RpcMethodHandler[Any, Any]]) -> None:
        self.handlers = dict(handlers)


def register(service: ApiServerService, server: grpc.aio.Server) -> None:
    """The generated registration, except that Watch accepts pre-serialized responses (see watch.py)."""
    capture = _Capture()
    apiserver_pb2_grpc.add_ApiServerServicer_to_server(service, capture)  # type: ignore[no-untyped-call]
    handlers = capture.handlers
    handlers["Watch"] = grpc.unary_stream_rpc_method_handler(
        service.Watch, request_deserializer=pb.WatchRequest.FromString, response_serializer=serialize
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))
    server.add_registered_method_handlers(SERVICE_NAME, handlers)


class ApiServerService(
    CrudHandlers, WatchHandlers, SubresourceHandlers, DiscoveryHandlers, apiserver_pb2_grpc.ApiServerServicer
):
    pass
