"""`pods/exec` and `pods/attach`, relayed to the kubelet's ExecStream over either transport kubectl
speaks: WebSocket (`v5.channel.k8s.io`, kubectl >= 1.30's default; `v4`, the Python client's) or SPDY/3.1
(`v4.channel.k8s.io`, kubectl <= 1.29), both behind channels.py's `Channels`.

The channels: stdin, stdout, stderr, the final Status and terminal resizes (`{"Width": w, "Height":
h}`), and "close stdin" (WebSocket v5's channel 255, SPDY's FIN on the stdin stream). The command's
exit travels as the Status, as the kubelet sends it in Kubernetes: Success, or Failure with reason
NonZeroExitCode and the code as an ExitCode cause, which kubectl turns into its own exit status.
Attach is the same session on the container's running process (ExecStart.attach): its output from now
on, ending with Success when the container stops. The pod, container and kubelet are checked before the
upgrade, so a wrong name is a plain HTTP error kubectl prints as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import web
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.channels import CLOSE, RESIZE, STDERR, STDIN, STDOUT, Channels, open_channels
from skiff_apiserver.rest.kubelet import dial, pod_and_container
from skiff_apiserver.rest.router import Target
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig


def _flag(request: web.Request, name: str, default: bool = False) -> bool:
    value = request.query.get(name)
    return default if value is None else value in ("true", "1")


def exit_status(code: int | None, command: list[str], message: str = "") -> dict[str, Any]:
    if code == 0:
        return {"metadata": {}, "status": "Success"}
    if code is None:
        return {"metadata": {}, "status": "Failure", "message": message or "the command ended without a status"}
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {command}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


async def serve_exec(
    request: web.Request, target: Target, registry: Registry, tls: TLSConfig | None
) -> web.StreamResponse:
    attach = target.subresource == "attach"
    command = request.query.getall("command", [])
    if not command and not attach:
        raise errors.BadRequest("you must specify at least one command for the container")
    pod, container = await pod_and_container(registry, target, request.query.get("container", ""))
    stub, channel = await dial(registry, pod, container, tls)
    use_stdin, tty = _flag(request, "stdin"), _flag(request, "tty")
    try:
        io = await open_channels(
            request, stdin=use_stdin, stdout=_flag(request, "stdout", True), stderr=_flag(request, "stderr", True),
            tty=tty, what=target.subresource,
        )  # fmt: skip
        start = kpb.ExecStart(
            namespace=target.namespace, pod=target.name, container=container, command=command,
            stdin=use_stdin, tty=tty, attach=attach,
        )  # fmt: skip
        await relay(io, stub, start, command)
    finally:
        await channel.close()  # type: ignore[attr-defined]
        reader = request.get("spdy_reader")
        if reader is not None:
            reader.cancel()
    response: web.StreamResponse = getattr(io, "ws", None) or request["spdy_response"]
    return response


async def relay(io: Channels, stub: Any, start: kpb.ExecStart, command: list[str]) -> None:
    inputs: asyncio.Queue[kpb.ExecStreamRequest | None] = asyncio.Queue()
    inputs.put_nowait(kpb.ExecStreamRequest(start=start))

    async def requests() -> AsyncIterator[kpb.ExecStreamRequest]:
        while (item := await inputs.get()) is not None:
            yield item

    call = stub.ExecStream(requests())

    async def from_client() -> None:
        async for ch, payload in io.inputs():
            if ch == STDIN and payload and start.stdin:
                inputs.put_nowait(kpb.ExecStreamRequest(stdin=payload))
            elif ch == RESIZE and payload:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    size = json.loads(payload)
                    resize = kpb.TerminalSize(width=int(size.get("Width", 0)), height=int(size.get("Height", 0)))
                    inputs.put_nowait(kpb.ExecStreamRequest(resize=resize))
            elif ch == CLOSE and payload[:1] == bytes([STDIN]) and start.stdin:
                inputs.put_nowait(kpb.ExecStreamRequest(close_stdin=True))
        call.cancel()  # the client went away: stop the command's stream

    reader = asyncio.create_task(from_client(), name="exec-from-client")
    code: int | None = None
    message = ""
    try:
        async for out in call:
            which = out.WhichOneof("output")
            if which == "stdout":
                await io.send(STDOUT, out.stdout)
            elif which == "stderr":
                await io.send(STDERR, out.stderr)
            elif which == "exit_code":
                code = out.exit_code
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.CANCELLED:
            message = errors.from_rpc_error(exc).message
    except ConnectionResetError:
        code, message = None, "the client went away"
    finally:
        inputs.put_nowait(None)
        reader.cancel()
    await io.finish(exit_status(code, command, message))
