"""Port forwarding into a pod's network namespace, over the kubelet's WebSocket port-forward protocol.

Per requested port ``i`` there are two channels: ``2i`` carries data both ways, ``2i+1`` carries an
error text from us. The first message we send on each of them is the port number as two little-endian
bytes, so the client can pair channels with ports. Each port gets one TCP connection to
``127.0.0.1:<port>`` inside the pod's network namespace, made when the socket opens (as containerd
does); when the pod side closes it, that pair is done, and when every pair is done the socket closes.
A failed connection is reported on the error channel.

Entering the namespace: ``setns(CLONE_NEWNET)`` only affects the calling thread, and unlike a mount
namespace it is allowed in a multi-threaded process. So a short-lived dedicated thread joins the pod's
pinned namespace, connects, and exits; the socket keeps the namespace it was created in, and the event
loop relays it. Never a pooled thread: it would go back to the pool still inside the pod. Host-network
pods (no namespace path) are dialled from the runtime's own namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import threading
from dataclasses import dataclass
from typing import Any

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.streaming import channels as ch

DIAL_TIMEOUT = 10.0


@dataclass(frozen=True)
class PortForwardTarget:
    sandbox_id: str
    netns_path: str  # "" for a host-network pod
    ports: list[int]  # from the CRI request; empty: the client names them in ?port=


def parse_ports(values: list[str]) -> list[int]:
    """``?port=80&port=8080,9090`` as the kubelet reads it; ValueError with the reason."""
    ports = []
    for value in values:
        for text in value.split(","):
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise ValueError(f"port: Invalid value {text!r}: must be a number between 1 and 65535")
            ports.append(int(text))
    return ports


def _dial_blocking(netns_path: str, port: int) -> socket.socket:
    if netns_path:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.NAMESPACES["network"][0])
        finally:
            os.close(fd)
    return socket.create_connection(("127.0.0.1", port), timeout=DIAL_TIMEOUT)


async def dial(netns_path: str, port: int) -> socket.socket:
    loop = asyncio.get_running_loop()
    result: asyncio.Future[socket.socket] = loop.create_future()

    def deliver(sock: socket.socket | None, err: BaseException | None) -> None:
        if result.done():  # nobody waits any more
            if sock is not None:
                sock.close()
        elif err is not None:
            result.set_exception(err)
        elif sock is not None:
            result.set_result(sock)

    def run() -> None:
        try:
            sock = _dial_blocking(netns_path, port)
        except BaseException as err:  # handed to the awaiting task
            loop.call_soon_threadsafe(deliver, None, err)
        else:
            loop.call_soon_threadsafe(deliver, sock, None)

    threading.Thread(target=run, name=f"portforward-dial-{port}", daemon=True).start()
    return await result


async def serve_port_forward(sock: ch.ChannelSocket, target: PortForwardTarget, ports: list[int]) -> None:
    writers: dict[int, asyncio.StreamWriter] = {}
    pairs: list[asyncio.Task[None]] = []
    for index, port in enumerate(ports):
        header = struct.pack("<H", port)
        await sock.send(2 * index, header)
        await sock.send(2 * index + 1, header)
    for index, port in enumerate(ports):
        try:
            conn = await dial(target.netns_path, port)
            conn.setblocking(False)
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError as err:
            message = f"error forwarding port {port} to pod {target.sandbox_id}: {err.strerror or err}"
            await sock.send(2 * index + 1, message.encode())
            continue
        writers[index] = writer
        pairs.append(asyncio.create_task(_pod_to_client(reader, sock, 2 * index)))
    inputs = asyncio.create_task(_client_to_pod(sock, writers))
    try:
        if pairs:  # until the client closes, or the pod side of every pair did
            every_pair: asyncio.Future[Any] = asyncio.gather(*pairs, return_exceptions=True)
            await asyncio.wait([inputs, every_pair], return_when=asyncio.FIRST_COMPLETED)
        await sock.close()
    finally:
        inputs.cancel()
        for task in pairs:
            task.cancel()
        for writer in writers.values():
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _pod_to_client(reader: asyncio.StreamReader, sock: ch.ChannelSocket, channel: int) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            await sock.send(channel, data)


async def _client_to_pod(sock: ch.ChannelSocket, writers: dict[int, asyncio.StreamWriter]) -> None:
    while (msg := await sock.receive()) is not None:
        channel, data = msg
        writer = writers.get(channel // 2) if channel % 2 == 0 else None
        if writer is not None and data and not writer.is_closing():
            with contextlib.suppress(ConnectionError):
                writer.write(data)
                await writer.drain()
