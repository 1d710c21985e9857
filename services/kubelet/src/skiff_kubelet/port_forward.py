"""PortForwardStream: one TCP connection to a pod's port, relayed to the runtime's streaming server.

As for exec, the runtime does not stream over CRI: CRI `PortForward` answers with a one-time URL, where
the runtime speaks Kubernetes' WebSocket port-forward protocol (`portforward.k8s.io`): for the one
port asked, channel 0 carries the data both ways and channel 1 the runtime's error text, the first
message on each being the port number (two little-endian bytes), which we drop. The caller (the
apiserver, for `kubectl port-forward`) gets the bytes and any error as gRPC messages:

    caller  --start, data-->   kubelet  --channel 0-->      runtime --TCP--> 127.0.0.1:<port> in the pod
    caller  <--data, error--   kubelet  <--channels 0, 1--  runtime
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
from skiff.kubelet.v1 import kubelet_pb2 as pb

PROTOCOL = "portforward.k8s.io"
DATA, ERROR = 0, 1


async def _forward(requests: AsyncIterator[pb.PortForwardStreamRequest], ws: aiohttp.ClientWebSocketResponse) -> None:
    async for request in requests:
        if request.WhichOneof("input") == "data" and request.data:
            await ws.send_bytes(bytes([DATA]) + request.data)
    await ws.close()  # the caller's side of the connection ended


async def relay(
    url: str, requests: AsyncIterator[pb.PortForwardStreamRequest]
) -> AsyncIterator[pb.PortForwardStreamResponse]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=(PROTOCOL,), max_msg_size=0) as ws,
    ):
        forward = asyncio.create_task(_forward(requests, ws))
        seen: set[int] = set()
        try:
            async for message in ws:
                if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                    continue
                channel, payload = message.data[0], message.data[1:]
                if channel not in seen:  # the port header
                    seen.add(channel)
                    payload = payload[2:]
                if not payload:
                    continue
                if channel == DATA:
                    yield pb.PortForwardStreamResponse(data=payload)
                elif channel == ERROR:
                    yield pb.PortForwardStreamResponse(error=payload.decode(errors="replace"))
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward
