"""`pods/portforward` (`kubectl port-forward`): SPDY streams from the client, one kubelet
PortForwardStream per forwarded connection.

kubectl speaks Kubernetes' `portforward.k8s.io` protocol over SPDY/3.1: for each local connection it
opens a pair of streams sharing a `requestID` and a `port` header, `streamType: error` then `data`.
We dial the pod's port through its kubelet when both are open, copy the data stream both ways, write a
failure's text on the error stream, and end both with FIN, which is what kubectl waits for. The SPDY
connection arrives one of two ways: tunnelled in a WebSocket (subprotocol
`SPDY/3.1+portforward.k8s.io`, kubectl >= 1.30's default, each binary message carrying SPDY bytes), or
as a plain SPDY/3.1 upgrade (older kubectl, and newer ones' fallback).

The Python client (and other WebSocket clients) speak the channel protocol instead (`v4.channel.k8s.io`,
ports in `?ports=`): for the i-th port, channel 2i carries data both ways and 2i+1 errors, and the first
message the server sends on each is the port number (two little-endian bytes); one kubelet stream per
port; the socket closes when the pod side of every port has.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import WSMsgType, web
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import spdy
from skiff_apiserver.rest.kubelet import dial
from skiff_apiserver.rest.router import Target
from skiff_apiserver.rest.upgrade import spdy_upgrade
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig

TUNNEL = "SPDY/3.1+portforward.k8s.io"
PROTOCOL = "portforward.k8s.io"
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io", PROTOCOL)


async def serve_port_forward(
    request: web.Request, target: Target, registry: Registry, tls: TLSConfig | None
) -> web.StreamResponse:
    pod = await registry.get(target.info, target.namespace, target.name)
    stub, channel = await dial(registry, pod, "", tls)
    try:
        ws = web.WebSocketResponse(protocols=(TUNNEL, *CHANNEL_PROTOCOLS), heartbeat=30)
        ready = ws.can_prepare(request)
        if ready.ok and ready.protocol != TUNNEL:
            ports = _ports(request)
            await ws.prepare(request)
            await _serve_channels(ws, stub, target, ports)
            return ws
        if ready.ok:
            await ws.prepare(request)
            session = spdy.Session(ws.send_bytes)
            pump = asyncio.create_task(_pump_websocket(ws, session), name="portforward-ws")
            response: web.StreamResponse = ws
        elif request.headers.get("Upgrade", "").lower().startswith("spdy/3.1"):
            session = await spdy_upgrade(request, (PROTOCOL,))
            pump = request["spdy_reader"]
            response = request["spdy_response"]
        else:
            raise errors.BadRequest(
                f"port-forward needs a connection upgrade: SPDY/3.1, or a WebSocket with subprotocol {TUNNEL}"
            )
        await _serve(session, stub, target)
        pump.cancel()
        return response
    finally:
        await channel.close()  # type: ignore[attr-defined]


def _ports(request: web.Request) -> list[int]:
    values = [p for v in request.query.getall("ports", []) for p in v.split(",") if p]
    if not values:
        raise errors.BadRequest("ports: at least one port is required (?ports=8080)")
    for text in values:
        if not text.isdigit() or not 0 < int(text) < 65536:
            raise errors.BadRequest(f"ports: invalid port {text!r}: must be a number between 1 and 65535")
    return [int(p) for p in values]


async def _serve_channels(ws: web.WebSocketResponse, stub: Any, target: Target, ports: list[int]) -> None:
    inputs: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]
    for i, port in enumerate(ports):
        header = port.to_bytes(2, "little")
        await ws.send_bytes(bytes([2 * i]) + header)
        await ws.send_bytes(bytes([2 * i + 1]) + header)

    async def one(i: int, port: int) -> None:
        async def requests() -> AsyncIterator[kpb.PortForwardStreamRequest]:
            start = kpb.PortForwardStart(namespace=target.namespace, pod=target.name, port=port)
            yield kpb.PortForwardStreamRequest(start=start)
            while (chunk := await inputs[i].get()) is not None:
                yield kpb.PortForwardStreamRequest(data=chunk)

        try:
            async for out in stub.PortForwardStream(requests()):
                if out.WhichOneof("output") == "data":
                    await ws.send_bytes(bytes([2 * i]) + out.data)
                else:
                    await ws.send_bytes(bytes([2 * i + 1]) + out.error.encode())
        except grpc.aio.AioRpcError as exc:
            message = f"error forwarding port {port} to pod {target.name}: {errors.from_rpc_error(exc).message}"
            with contextlib.suppress(ConnectionResetError):
                await ws.send_bytes(bytes([2 * i + 1]) + message.encode())

    relays = [asyncio.create_task(one(i, port), name=f"portforward-{port}") for i, port in enumerate(ports)]

    async def close_when_done() -> None:
        # the pod side of every port closed: so does the socket, the protocol's only end-of-stream
        await asyncio.gather(*relays, return_exceptions=True)
        await ws.close()

    closer = asyncio.create_task(close_when_done(), name="portforward-close")
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY and len(msg.data) > 1 and msg.data[0] % 2 == 0:
                index = msg.data[0] // 2
                if index < len(inputs):
                    inputs[index].put_nowait(msg.data[1:])
    finally:
        for queue in inputs:
            queue.put_nowait(None)
        for task in (*relays, closer):
            task.cancel()


async def _pump_websocket(ws: web.WebSocketResponse, session: spdy.Session) -> None:
    try:
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await session.feed(msg.data)
    finally:
        session.end()


async def _serve(session: spdy.Session, stub: Any, target: Target) -> None:
    pairs: dict[str, dict[str, spdy.Stream]] = {}
    tasks: set[asyncio.Task[None]] = set()
    try:
        while (stream := await session.streams.get()) is not None:
            request_id = stream.headers.get("requestid", "")
            pair = pairs.setdefault(request_id, {})
            pair[stream.headers.get("streamtype", "")] = stream
            if "data" in pair and "error" in pair:
                del pairs[request_id]
                task = asyncio.create_task(_connection(stub, target, pair), name=f"portforward-{request_id}")
                tasks.add(task)
                task.add_done_callback(tasks.discard)
    finally:
        for task in tasks:
            task.cancel()


async def _connection(stub: Any, target: Target, pair: dict[str, spdy.Stream]) -> None:
    data, error = pair["data"], pair["error"]
    port_text = data.headers.get("port", "")
    try:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise errors.BadRequest(f"invalid port {port_text!r}: must be a number between 1 and 65535")
        start = kpb.PortForwardStart(namespace=target.namespace, pod=target.name, port=int(port_text))

        async def requests() -> AsyncIterator[kpb.PortForwardStreamRequest]:
            yield kpb.PortForwardStreamRequest(start=start)
            while (chunk := await data.read()) is not None:
                yield kpb.PortForwardStreamRequest(data=chunk)

        async for out in stub.PortForwardStream(requests()):
            if out.WhichOneof("output") == "data":
                await data.write(out.data)
            else:
                await error.write(out.error.encode())
    except grpc.aio.AioRpcError as exc:
        message = errors.from_rpc_error(exc).message
        await error.write(f"error forwarding port {port_text} to pod {target.name}: {message}".encode())
    except errors.SkiffError as exc:
        await error.write(exc.message.encode())
    finally:
        with contextlib.suppress(ConnectionResetError):
            await data.close()
            await error.close()
