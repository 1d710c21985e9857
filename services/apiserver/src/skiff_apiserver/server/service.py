"""The ApiServer servicer: the verb-group mixins combined."""

from __future__ import annotations

from skiff.apiserver.v1 import apiserver_pb2_grpc

from skiff_apiserver.server.crud import CrudHandlers
from skiff_apiserver.server.discovery import DiscoveryHandlers
from skiff_apiserver.server.subresources import SubresourceHandlers
from skiff_apiserver.server.watch import WatchHandlers


class ApiServerService(
    CrudHandlers, WatchHandlers, SubresourceHandlers, DiscoveryHandlers, apiserver_pb2_grpc.ApiServerServicer
):
    pass
