"""The kubelet's side of one registered device plugin: a gRPC client on the plugin's unix socket.

`watch` follows ListAndWatch (each message is the whole device list) and hands every list to the
manager; when the stream ends (the plugin exited or restarted) the manager is told, which makes the
resource's devices unallocatable until the plugin registers again.
"""

from __future__ import annotations

from collections.abc import Callable

import grpc
from skiff.deviceplugin.v1beta1 import api_pb2 as dp
from skiff.deviceplugin.v1beta1 import api_pb2_grpc as dp_grpc
from skiff_common.observability import get_logger

log = get_logger("skiff_kubelet.devices")


class Endpoint:
    def __init__(self, resource: str, socket: str, options: dp.DevicePluginOptions) -> None:
        self.resource = resource
        self.socket = socket
        self.options = options
        self.channel = grpc.aio.insecure_channel(f"unix://{socket}")
        self.stub = dp_grpc.DevicePluginStub(self.channel)  # type: ignore[no-untyped-call]
        self.stopped = False

    async def watch(self, on_devices: Callable[[list[dp.Device]], None], on_stop: Callable[[], None]) -> None:
        try:
            async for response in self.stub.ListAndWatch(dp.Empty()):
                on_devices(list(response.devices))
        except grpc.aio.AioRpcError as exc:
            log.warning("device_plugin.stream_ended", resource=self.resource, code=str(exc.code()))
        finally:
            self.stopped = True
            on_stop()

    async def preferred(self, available: list[str], must: list[str], size: int) -> list[str]:
        request = dp.PreferredAllocationRequest(
            container_requests=[
                dp.ContainerPreferredAllocationRequest(
                    available_deviceIDs=available, must_include_deviceIDs=must, allocation_size=size
                )
            ]
        )
        response = await self.stub.GetPreferredAllocation(request, timeout=10)
        return list(response.container_responses[0].deviceIDs) if response.container_responses else []

    async def allocate(self, ids: list[str]) -> dp.ContainerAllocateResponse:
        request = dp.AllocateRequest(container_requests=[dp.ContainerAllocateRequest(devices_ids=ids)])
        response = await self.stub.Allocate(request, timeout=10)
        if len(response.container_responses) != 1:
            raise RuntimeError(
                f"{self.resource}: Allocate answered {len(response.container_responses)} containers, not 1"
            )
        return response.container_responses[0]  # type: ignore[no-any-return]

    async def pre_start(self, ids: list[str]) -> None:
        await self.stub.PreStartContainer(dp.PreStartContainerRequest(devices_ids=ids), timeout=30)

    async def close(self) -> None:
        await self.channel.close()
