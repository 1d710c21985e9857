"""The CRI gRPC front end: protobuf in, domain calls, protobuf out. It never touches /proc or the disk itself.

One module per RPC group (sandbox, container, exec, stats, runtime status, images); `convert` turns
records into CRI messages. Errors are Skiff domain exceptions, mapped to status codes by skiff_common's
server interceptor.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from skiff.cri.runtime.v1 import api_pb2_grpc

from skiff_runtime.runtime import Runtime
from skiff_runtime.server.image_service import ImageService
from skiff_runtime.server.runtime_service import RuntimeService

# grpcio-tools writes the *_pb2_grpc modules without annotations (and without stubs); these are their
# signatures, so the calls below are checked rather than untyped.
_add_runtime_service: Callable[[api_pb2_grpc.RuntimeServiceServicer, grpc.aio.Server], None] = (
    api_pb2_grpc.add_RuntimeServiceServicer_to_server
)
_add_image_service: Callable[[api_pb2_grpc.ImageServiceServicer, grpc.aio.Server], None] = (
    api_pb2_grpc.add_ImageServiceServicer_to_server
)


def register(server: grpc.aio.Server, runtime: Runtime) -> None:
    _add_runtime_service(RuntimeService(runtime), server)
    _add_image_service(ImageService(runtime), server)
