"""`pods/exec` over WebSocket with Kubernetes' channel protocol (`v5.channel.k8s.io`, which kubectl >= 1.30
speaks by default, and `v4.channel.k8s.io`, the Python client's), relayed to the kubelet's ExecStream.

Every binary message starts with its channel: 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 a
terminal resize (`{"Width": w, "Height": h}`), and in v5 255 "close channel N" (the client's stdin
ended). The command's exit travels as the Status on channel 3, as the kubelet sends it in Kubernetes:
Success, or Failure with reason NonZeroExitCode and the code as an ExitCode cause, which kubectl turns
into its own exit status. SPDY (kubectl <= 1.29's only transport, and the fallback of newer ones) is not
served: such a request gets 400 naming the protocols that are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from aiohttp import WSMsgType, web
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.kubelet import dial, pod_and_container
from skiff_apiserver.rest.router import Target
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig

PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("true", "1")


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
    command = request.query.getall("command", [])
    if not command:
        raise errors.BadRequest("you must specify at least one command for the container")
    ws = web.WebSocketResponse(protocols=PROTOCOLS, heartbeat=30)
    if not ws.can_prepare(request).ok:
        raise errors.BadRequest(
            f"pods/exec is served over WebSocket only (Sec-WebSocket-Protocol {' or '.join(PROTOCOLS)}); SPDY is not"
        )
    pod, container = await pod_and_container(registry, target, request.query.get("container", ""))
    stub, channel = await dial(registry, pod, container, tls)
    use_stdin, tty = _flag(request, "stdin"), _flag(request, "tty")
    await ws.prepare(request)
    inputs: asyncio.Queue[kpb.ExecStreamRequest | None] = asyncio.Queue()
    inputs.put_nowait(
        kpb.ExecStreamRequest(
            start=kpb.ExecStart(
                namespace=target.namespace, pod=target.name, container=container, command=command,
                stdin=use_stdin, tty=tty,
            )
        )
    )  # fmt: skip

    async def requests() -> AsyncIterator[kpb.ExecStreamRequest]:
        while (item := await inputs.get()) is not None:
            yield item

    call = stub.ExecStream(requests())  # type: ignore[attr-defined]

    async def from_client() -> None:
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if not data:
                continue
            ch, payload = data[0], data[1:]
            if ch == STDIN and payload and use_stdin:
                inputs.put_nowait(kpb.ExecStreamRequest(stdin=payload))
            elif ch == RESIZE and payload:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    size = json.loads(payload)
                    resize = kpb.TerminalSize(width=int(size.get("Width", 0)), height=int(size.get("Height", 0)))
                    inputs.put_nowait(kpb.ExecStreamRequest(resize=resize))
            elif ch == CLOSE and payload[:1] == bytes([STDIN]) and use_stdin:
                inputs.put_nowait(kpb.ExecStreamRequest(close_stdin=True))
        call.cancel()  # the client went away: stop the command's stream

    reader = asyncio.create_task(from_client(), name="exec-from-client")
    code: int | None = None
    message = ""
    try:
        async for out in call:
            which = out.WhichOneof("output")
            if which == "stdout":
                await ws.send_bytes(bytes([STDOUT]) + out.stdout)
            elif which == "stderr":
                await ws.send_bytes(bytes([STDERR]) + out.stderr)
            elif which == "exit_code":
                code = out.exit_code
    except grpc.aio.AioRpcError as exc:
        message = errors.from_rpc_error(exc).message
    except ConnectionResetError:
        code, message = None, "the client went away"
    finally:
        inputs.put_nowait(None)
        reader.cancel()
        await channel.close()  # type: ignore[attr-defined]
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_bytes(bytes([ERROR]) + json.dumps(exit_status(code, command, message)).encode())
            await ws.close()
    return ws
