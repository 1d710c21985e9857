"""Interactive exec: the Kubelet's ExecStream relayed to the runtime's streaming server.

As in Kubernetes, the runtime does not stream over CRI itself: CRI `Exec` answers with a one-time URL
of the runtime's streaming server, which speaks Kubernetes' WebSocket channel protocol. The kubelet
connects there with `v5.channel.k8s.io` (v5 can close stdin alone, so `cat` sees EOF while its output
still flows) and relays between that socket and the caller's gRPC stream:

    caller  --start, stdin, resize, close_stdin-->  kubelet  --channels 0, 4, 255-->  runtime
    caller  <--stdout, stderr, exit_code-------     kubelet  <--channels 1, 2, 3----  runtime

The final status on channel 3 is Kubernetes' `metav1.Status`: Success, a NonZeroExitCode failure whose
cause carries the code, or an internal error, which becomes a gRPC error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from skiff.kubelet.v1 import kubelet_pb2 as pb
from skiff_common import errors

STDIN, STDOUT, STDERR, STATUS, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
PROTOCOL = "v5.channel.k8s.io"


def exit_code_of(status: dict[str, Any]) -> int:
    """The exit code in a final `metav1.Status`; an internal error raises."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") == "NonZeroExitCode":
        for cause in status.get("details", {}).get("causes", []):
            if cause.get("reason") == "ExitCode":
                return int(cause.get("message", "1"))
        return 1
    raise errors.InternalError(str(status.get("message") or "exec failed in the runtime"))


def resize_frame(size: pb.TerminalSize) -> bytes:
    return bytes([RESIZE]) + json.dumps({"Width": size.width, "Height": size.height}).encode()


async def _forward_input(requests: AsyncIterator[pb.ExecStreamRequest], ws: Any, stdin: bool) -> None:
    """Caller -> runtime. The caller ending its stream also ends stdin."""
    stdin_open = stdin
    async for request in requests:
        which = request.WhichOneof("input")
        if which == "stdin" and stdin_open:
            await ws.send_bytes(bytes([STDIN]) + request.stdin)
        elif which == "resize":
            await ws.send_bytes(resize_frame(request.resize))
        elif which == "close_stdin" and stdin_open:
            await ws.send_bytes(bytes([CLOSE, STDIN]))
            stdin_open = False
        elif which == "start":
            raise errors.BadRequest("start: only the first request may start the command")
    if stdin_open:
        await ws.send_bytes(bytes([CLOSE, STDIN]))


async def relay(
    url: str, start: pb.ExecStart, requests: AsyncIterator[pb.ExecStreamRequest]
) -> AsyncIterator[pb.ExecStreamResponse]:
    """Connect to the runtime's streaming URL and relay until the command's final status."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=(PROTOCOL,), max_msg_size=0) as ws,
    ):
        if start.tty and start.HasField("size"):
            await ws.send_bytes(resize_frame(start.size))
        forward = asyncio.create_task(_forward_input(requests, ws, start.stdin))
        closing: set[asyncio.Future[Any]] = set()  # holds the close() started below until it runs

        def end_on_bad_input(task: asyncio.Task[None]) -> None:
            # Closing the socket ends the session (the runtime kills the command); the task is done
            # first, so the relay below finds its error once the socket is closed.
            if not task.cancelled() and task.exception() is not None:
                closing.add(asyncio.ensure_future(ws.close()))

        forward.add_done_callback(end_on_bad_input)
        try:
            status: dict[str, Any] | None = None
            async for message in ws:
                if message.type != aiohttp.WSMsgType.BINARY or not message.data:
                    continue
                channel, payload = message.data[0], message.data[1:]
                if channel == STDOUT:
                    yield pb.ExecStreamResponse(stdout=payload)
                elif channel == STDERR:
                    yield pb.ExecStreamResponse(stderr=payload)
                elif channel == STATUS:
                    status = json.loads(payload or b"{}")
            if forward.done() and not forward.cancelled() and (bad_input := forward.exception()) is not None:
                raise bad_input  # e.g. a second `start`: the caller's error, not the command's
            if status is None:
                raise errors.Unavailable("the runtime's exec stream ended without a status")
            yield pb.ExecStreamResponse(exit_code=exit_code_of(status))
        finally:
            forward.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await forward
