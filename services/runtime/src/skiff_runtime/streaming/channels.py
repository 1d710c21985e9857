"""Kubernetes' multiplexed WebSocket channels (``channel.k8s.io`` and its versions), server side.

Every message carries one channel: binary protocols put the channel number in the first byte, the
``base64.`` variants send text whose first character is ``'0' + channel`` followed by the base64 data.
For exec and attach the channels are 0 stdin, 1 stdout, 2 stderr, 3 error/status, 4 resize; port
forwarding uses a data/error pair per port (see ``portforward.py``).

Versions differ only in the status channel and in closing:

* ``channel.k8s.io`` (and no subprotocol at all): channel 3 carries a plain error text, nothing on success;
* ``v4.channel.k8s.io``: channel 3 carries a JSON ``metav1.Status`` (``Success``, or ``Failure`` with
  reason ``NonZeroExitCode`` and the exit code as the message of a cause of type ``ExitCode``);
* ``v5.channel.k8s.io``: as v4, plus a client message on channel 255 whose payload is a channel number
  closes that channel (so a client can end stdin without closing the socket: ``cat`` sees EOF).

Negotiation is the client's order of preference, restricted to what the endpoint offers; a client that
offers only protocols we do not speak is refused with 400 before the upgrade, as the kubelet does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # aiohttp is imported where a session runs: the runtime's start-up need not pay for it
    from aiohttp import web

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255  # v5: "close the channel named in the payload"
MAX_MESSAGE = 4 << 20  # a client frame larger than this ends the session (kubectl sends at most 32 KiB)


@dataclass(frozen=True)
class Protocol:
    name: str  # "" when the client asked for none
    binary: bool
    status_json: bool  # v4+: metav1.Status JSON on the error channel
    close_signal: bool  # v5: channel 255 closes a channel


def _proto(name: str) -> Protocol:
    version = name.split(".", 1)[0] if name.startswith("v") else ""
    return Protocol(
        name=name,
        binary="base64" not in name,
        status_json=version in ("v4", "v5"),
        close_signal=version == "v5",
    )


# preference order does not matter (the client's order decides), membership does
REMOTECOMMAND = tuple(
    _proto(n)
    for n in (
        "v5.channel.k8s.io",
        "v4.channel.k8s.io",
        "v4.base64.channel.k8s.io",
        "channel.k8s.io",
        "base64.channel.k8s.io",
    )
)
# ``portforward.k8s.io`` is the SPDY protocol's name; accepted over WebSocket as the binary framing
PORTFORWARD = tuple(_proto(n) for n in ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", "portforward.k8s.io"))


class ProtocolError(Exception):
    pass


def negotiate(request: web.Request, offered: tuple[Protocol, ...]) -> Protocol:
    header = request.headers.get("Sec-WebSocket-Protocol", "")
    wanted = [p.strip() for p in header.split(",") if p.strip()]
    if not wanted:
        return _proto("")  # the kubelet's "" entry: binary, pre-v4 status
    for name in wanted:
        for proto in offered:
            if proto.name == name:
                return proto
    supported = ", ".join(p.name for p in offered)
    raise ProtocolError(f"requested protocol(s) {wanted} are not supported; supported: {supported}")


class ChannelSocket:
    """A prepared WebSocket speaking one negotiated channel protocol."""

    def __init__(self, ws: web.WebSocketResponse, protocol: Protocol) -> None:
        self.ws = ws
        self.protocol = protocol

    @classmethod
    async def accept(cls, request: web.Request, offered: tuple[Protocol, ...]) -> ChannelSocket | web.Response:
        """Upgrade, or an HTTP error response for a request that cannot be served."""
        from aiohttp import web

        if request.headers.get("Upgrade", "").lower() != "websocket":
            return web.Response(
                status=400,
                text="streaming needs a WebSocket upgrade (channel.k8s.io protocols); SPDY is not supported\n",
            )
        try:
            protocol = negotiate(request, offered)
        except ProtocolError as err:
            return web.Response(status=400, text=f"{err}\n")
        ws = web.WebSocketResponse(protocols=(protocol.name,) if protocol.name else (), max_msg_size=MAX_MESSAGE)
        await ws.prepare(request)
        return cls(ws, protocol)

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def send(self, channel: int, data: bytes) -> None:
        if self.ws.closed:
            return
        if self.protocol.binary:
            await self.ws.send_bytes(bytes([channel]) + data)
        else:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())

    async def receive(self) -> tuple[int, bytes] | None:
        """The next (channel, data) from the client; None once the socket is closed.
        Malformed frames are skipped, as the kubelet does (a bad frame is not worth a dead session)."""
        from aiohttp import WSMsgType

        while True:
            msg = await self.ws.receive()
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                return None
            if msg.type == WSMsgType.BINARY and self.protocol.binary:
                raw: bytes = msg.data
                if raw:
                    return raw[0], raw[1:]
            elif msg.type == WSMsgType.TEXT and not self.protocol.binary:
                text: str = msg.data
                if text:
                    try:
                        return ord(text[0]) - ord("0"), base64.b64decode(text[1:], validate=True)
                    except (binascii.Error, ValueError):
                        continue

    async def send_status(self, status: dict[str, Any]) -> None:
        """Write the final status on channel 3 in the negotiated version's shape."""
        if self.protocol.status_json:
            await self.send(ERROR, json.dumps(status).encode())
        elif status.get("status") != "Success":
            await self.send(ERROR, str(status.get("message", "")).encode())

    async def close(self) -> None:
        if not self.ws.closed:
            await self.ws.close()


def success() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_status(code: int, argv: list[str]) -> dict[str, Any]:
    """What the kubelet reports for a command that ran and exited non-zero (``kubectl exec`` reads the
    code from the ``ExitCode`` cause)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: error executing command {argv}, exit code {code}",
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]},
    }


def internal_error(message: str) -> dict[str, Any]:
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }
