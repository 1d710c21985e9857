"""The two transports of Kubernetes' remote command protocol (exec and attach), behind one interface.

Both carry the same channels: stdin, stdout, stderr, the final Status ("error") and terminal resizes,
plus, in WebSocket v5, "close stdin". On a WebSocket (`v5.channel.k8s.io`, `v4.channel.k8s.io`) they
are the first byte of each binary message; over SPDY/3.1 (`v4.channel.k8s.io`, kubectl <= 1.29) each
is a stream the client opens, named by its `streamType` header, stdin ending with the stream's FIN.
exec.py relays `Channels` to the kubelet without knowing which transport it has.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import WSMsgType, web
from skiff_apiserver.rest import spdy
from skiff_apiserver.rest.upgrade import spdy_upgrade
from skiff_common import errors

WS_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
SPDY_PROTOCOLS = ("v4.channel.k8s.io",)
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
_STREAM_WAIT = 30.0


class Channels(Protocol):
    def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        """(STDIN, data), (RESIZE, json) and (CLOSE, b"\\x00") until the client goes away."""
        ...

    async def send(self, channel: int, data: bytes) -> None: ...

    async def finish(self, status: dict[str, Any]) -> None:
        """Send the final Status and end the session."""
        ...


class WebSocketChannels:
    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        async for msg in self.ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            if data:
                yield data[0], data[1:]

    async def send(self, channel: int, data: bytes) -> None:
        await self.ws.send_bytes(bytes([channel]) + data)

    async def finish(self, status: dict[str, Any]) -> None:
        if not self.ws.closed:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
                await self.ws.close()


class SpdyChannels:
    def __init__(self, session: spdy.Session, streams: dict[str, spdy.Stream]) -> None:
        self.session, self.streams = session, streams
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._pumps = [
            asyncio.create_task(self._pump(streams[name], channel), name=f"spdy-{name}")
            for name, channel in (("stdin", STDIN), ("resize", RESIZE))
            if name in streams
        ]
        self._ended = asyncio.create_task(self._watch_end(), name="spdy-end")

    async def _pump(self, stream: spdy.Stream, channel: int) -> None:
        pending = b""
        while (data := await stream.read()) is not None:
            if channel == STDIN:
                self._queue.put_nowait((STDIN, data))
                continue
            pending += data  # resizes are JSON objects one after another
            decoder, pos = json.JSONDecoder(), 0
            text = pending.decode(errors="replace")
            while True:
                text_rest = text[pos:].lstrip()
                if not text_rest:
                    break
                try:
                    obj, end = decoder.raw_decode(text_rest)
                except ValueError:
                    break
                self._queue.put_nowait((RESIZE, json.dumps(obj).encode()))
                pos = len(text) - len(text_rest) + end
            pending = text[pos:].encode()
        if channel == STDIN:
            self._queue.put_nowait((CLOSE, bytes([STDIN])))

    async def _watch_end(self) -> None:
        while await self.session.streams.get() is not None:
            pass  # a stream the protocol does not use: ignored
        self._queue.put_nowait(None)

    async def inputs(self) -> AsyncIterator[tuple[int, bytes]]:
        while (item := await self._queue.get()) is not None:
            yield item

    async def send(self, channel: int, data: bytes) -> None:
        stream = self.streams.get("stdout" if channel == STDOUT else "stderr")
        if stream is not None:
            await stream.write(data)

    async def finish(self, status: dict[str, Any]) -> None:
        with contextlib.suppress(ConnectionResetError):
            await self.streams["error"].write(json.dumps(status).encode())
            for stream in self.streams.values():
                await stream.close()
        for task in (*self._pumps, self._ended):
            task.cancel()


async def open_channels(
    request: web.Request, *, stdin: bool, stdout: bool, stderr: bool, tty: bool, what: str
) -> Channels:
    """Upgrade the request to whichever transport the client offers and return its channels."""
    ws = web.WebSocketResponse(protocols=WS_PROTOCOLS, heartbeat=30)
    if ws.can_prepare(request).ok:
        await ws.prepare(request)
        return WebSocketChannels(ws)
    if request.headers.get("Upgrade", "").lower().startswith("spdy/3.1"):
        session = await spdy_upgrade(request, SPDY_PROTOCOLS)
        wanted = {"error"} | {n for n, on in (("stdin", stdin), ("stdout", stdout), ("resize", tty)) if on}
        if stderr and not tty:
            wanted.add("stderr")
        streams: dict[str, spdy.Stream] = {}
        async with asyncio.timeout(_STREAM_WAIT):
            while not wanted <= set(streams):
                stream = await session.streams.get()
                if stream is None:
                    raise errors.BadRequest(f"{what}: the client closed the connection before opening its streams")
                streams[stream.headers.get("streamtype", "")] = stream
        return SpdyChannels(session, streams)
    protocols = " or ".join(WS_PROTOCOLS)
    raise errors.BadRequest(
        f"{what} needs a connection upgrade: WebSocket (Sec-WebSocket-Protocol {protocols}) or SPDY/3.1"
    )
