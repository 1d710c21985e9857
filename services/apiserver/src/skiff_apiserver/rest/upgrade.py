"""The SPDY/3.1 HTTP upgrade on an aiohttp connection (101 Switching Protocols, then raw frames).

aiohttp upgrades connections only to WebSocket itself; for any other protocol it would parse what the
client sends next as another HTTP request. So, exactly as its WebSocketResponse does, we install our own
payload parser on the request's protocol before answering 101: every byte that arrives afterwards is
handed to the SPDY session (through a queue, since the parser's callback is synchronous), and the
connection is not kept alive afterwards. The protocol version is negotiated with kubectl's
`X-Stream-Protocol-Version` headers, as Kubernetes' httpstream does.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from skiff_apiserver.rest import spdy
from skiff_common import errors


class _Feed:
    """The payload parser aiohttp calls with each chunk after the upgrade."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: Any) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


def negotiate(request: web.Request, supported: tuple[str, ...]) -> str:
    offered = [p.strip() for v in request.headers.getall("X-Stream-Protocol-Version", []) for p in v.split(",")]
    for protocol in offered:
        if protocol in supported:
            return protocol
    raise errors.Forbidden(
        f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server supports {list(supported)}"
    )


async def spdy_upgrade(request: web.Request, supported: tuple[str, ...]) -> spdy.Session:
    protocol = negotiate(request, supported)
    feed = _Feed()
    request.protocol.set_parser(feed)  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    response = web.StreamResponse(
        status=101,
        headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1", "X-Stream-Protocol-Version": protocol},
    )
    await response.prepare(request)
    session = spdy.Session(response.write)

    async def pump() -> None:
        try:
            while (data := await feed.queue.get()) is not None:
                await session.feed(data)
        finally:
            session.end()

    task = asyncio.create_task(pump(), name="spdy-read")
    request["spdy_reader"] = task  # held for the request's lifetime
    request["spdy_response"] = response
    return session
