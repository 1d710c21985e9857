"""CriClient: the kubelet's connection to a CRI runtime (runtime.v1 over a unix socket).

Thin on purpose: callers use the generated stubs directly (``cri.runtime.RunPodSandbox(...)``) so the
CRI vocabulary stays visible in kubelet code. ``call`` maps ``grpc.RpcError`` to ``skiff_common.errors``
like the ApiClient does.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import grpc
from skiff.cri.runtime.v1 import api_pb2_grpc
from skiff_common import errors
from skiff_common.grpcutil import create_channel

T = TypeVar("T")


def normalize_endpoint(endpoint: str) -> str:
    """Accept ``unix:///run/x.sock``, ``unix:/run/x.sock`` or a bare ``/run/x.sock`` path."""
    if endpoint.startswith("/"):
        return "unix://" + endpoint
    if endpoint.startswith("unix:") and not endpoint.startswith("unix://"):
        return "unix://" + endpoint[len("unix:") :]
    return endpoint


class CriClient:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        # grpc's generated stubs carry no annotations
        self.runtime = api_pb2_grpc.RuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
        self.images = api_pb2_grpc.ImageServiceStub(channel)  # type: ignore[no-untyped-call]

    @classmethod
    def connect(cls, endpoint: str) -> CriClient:
        return cls(create_channel(normalize_endpoint(endpoint)))

    async def close(self) -> None:
        await self.channel.close()


async def call(awaitable: Awaitable[T]) -> T:
    """Await a CRI stub call, re-raising gRPC failures as skiff_common.errors exceptions."""
    try:
        return await awaitable
    except grpc.RpcError as exc:
        raise errors.from_rpc_error(exc) from exc
