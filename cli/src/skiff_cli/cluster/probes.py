"""Questions `skiff up` asks the components while it waits for them: are you there, is the node Ready."""

from __future__ import annotations

from pathlib import Path

import grpc
from skiff.api.core.v1 import node_pb2
from skiff.apiserver.v1 import apiserver_pb2, apiserver_pb2_grpc
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff.cri.runtime.v1 import api_pb2_grpc as cri_grpc
from skiff_common.grpcutil import create_channel

from ..clientconfig import ClientConfig


async def runtime_ready(socket: Path) -> bool:
    if not socket.exists():  # noqa: ASYNC240 (one stat, before any I/O)
        return False
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        try:
            await cri_grpc.RuntimeServiceStub(channel).Version(cri.VersionRequest(), timeout=2)
        except grpc.aio.AioRpcError:
            return False
    return True


async def apiserver_ready(config: ClientConfig) -> bool:
    async with create_channel(config.server, tls=config.tls) as channel:
        try:
            await apiserver_pb2_grpc.ApiServerStub(channel).ListResources(
                apiserver_pb2.ListResourcesRequest(), timeout=2
            )
        except grpc.aio.AioRpcError:
            return False
    return True


async def node_ready(config: ClientConfig, node_name: str) -> bool:
    async with create_channel(config.server, tls=config.tls) as channel:
        try:
            resp = await apiserver_pb2_grpc.ApiServerStub(channel).Get(
                apiserver_pb2.GetRequest(resource="nodes", name=node_name), timeout=2
            )
        except grpc.aio.AioRpcError:
            return False
    node = node_pb2.Node()
    resp.object.Unpack(node)
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


async def remove_all_sandboxes(socket: Path) -> int:
    """Stop and remove every pod sandbox (and so its containers); returns how many there were."""
    if not socket.exists():  # noqa: ASYNC240
        return 0
    async with grpc.aio.insecure_channel(f"unix://{socket}") as channel:
        stub = cri_grpc.RuntimeServiceStub(channel)
        sandboxes = (await stub.ListPodSandbox(cri.ListPodSandboxRequest(), timeout=10)).items
        for sandbox in sandboxes:
            for container in (
                await stub.ListContainers(
                    cri.ListContainersRequest(filter=cri.ContainerFilter(pod_sandbox_id=sandbox.id)), timeout=10
                )
            ).containers:
                await stub.StopContainer(cri.StopContainerRequest(container_id=container.id, timeout=2), timeout=30)
                await stub.RemoveContainer(cri.RemoveContainerRequest(container_id=container.id), timeout=30)
            await stub.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sandbox.id), timeout=30)
            await stub.RemovePodSandbox(cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox.id), timeout=30)
    return len(sandboxes)
