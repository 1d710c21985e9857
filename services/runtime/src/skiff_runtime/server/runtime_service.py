"""RuntimeService = the handler groups, one per module, composed into the servicer grpc expects."""

from __future__ import annotations

from skiff.cri.runtime.v1 import api_pb2_grpc

from skiff_runtime.runtime import Runtime
from skiff_runtime.server.container_handlers import ContainerHandlers
from skiff_runtime.server.exec_handlers import ExecHandlers
from skiff_runtime.server.sandbox_handlers import SandboxHandlers
from skiff_runtime.server.stats_handlers import StatsHandlers
from skiff_runtime.server.status_handlers import StatusHandlers


class RuntimeService(
    SandboxHandlers,
    ContainerHandlers,
    ExecHandlers,
    StatsHandlers,
    StatusHandlers,
    api_pb2_grpc.RuntimeServiceServicer,
):
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
