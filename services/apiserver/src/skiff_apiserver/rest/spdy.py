"""SPDY/3.1 framing, the server side of the streams kubectl opens for exec, attach and port-forward
when it does not speak WebSocket (kubectl <= 1.29 for exec and attach; port-forward tunnels SPDY
through a WebSocket from 1.30 on, `SPDY/3.1+portforward.k8s.io`, and falls back to plain SPDY).

Only what Kubernetes' streaming uses is here: the client opens every stream (SYN_STREAM with a header
block naming its `streamType`, plus `port`/`requestID` for port-forward); we answer each with a
SYN_REPLY, read and write DATA frames, half-close with FLAG_FIN, answer PINGs, and ignore SETTINGS and
WINDOW_UPDATE (Go's spdystream, kubectl's side, does not enforce flow-control windows). A header block
is a count and length-prefixed names and values, compressed with zlib on one stream per direction
that starts from the dictionary SPDY/3 defines (built below from its word list and tail).

Frames (big-endian): control = 1 bit set, 15-bit version (3), 16-bit type, 8-bit flags, 24-bit
length, payload; data = 1 bit clear, 31-bit stream id, 8-bit flags, 24-bit length, payload.
"""

from __future__ import annotations

import asyncio
import struct
import zlib
from collections.abc import Awaitable, Callable

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 1
_MAX_DATA = 32 * 1024

_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges "
    "age allow authorization cache-control connection content-base content-encoding content-language "
    "content-length content-location content-md5 content-range content-type date etag expect expires from "
    "host if-match if-modified-since if-none-match if-range if-unmodified-since last-modified location "
    "max-forwards pragma proxy-authenticate proxy-authorization range referer retry-after server te trailer "
    "transfer-encoding upgrade user-agent vary via warning www-authenticate method get status |200 OK| "
    "version HTTP/1.1 url public set-cookie keep-alive origin"
)
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)


def _split_words() -> list[str]:
    """The word list, where `|...|` keeps a word with a space in it whole."""
    out: list[str] = []
    for i, part in enumerate(_WORDS.split("|")):
        out.extend([part] if i % 2 else part.split())
    return out


DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _split_words()) + _TAIL.encode()


class Stream:
    def __init__(self, session: Session, stream_id: int, headers: dict[str, str]) -> None:
        self.session, self.id, self.headers = session, stream_id, headers
        self.incoming: asyncio.Queue[bytes | None] = asyncio.Queue()  # None: the client half-closed
        self.closed = False

    async def write(self, data: bytes) -> None:
        for i in range(0, len(data), _MAX_DATA):
            await self.session.send_data(self.id, data[i : i + _MAX_DATA])

    async def close(self) -> None:
        """Half-close our side (FLAG_FIN on an empty DATA frame)."""
        if not self.closed:
            self.closed = True
            await self.session.send_data(self.id, b"", fin=True)

    async def read(self) -> bytes | None:
        return await self.incoming.get()


class Session:
    """One SPDY connection: `feed()` what arrives, read new streams from `streams`; frames go out through
    `write` (an async callable that sends bytes to the client)."""

    def __init__(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        self._write = write
        self._buffer = b""
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8, zdict=DICTIONARY)
        self._lock = asyncio.Lock()
        self.by_id: dict[int, Stream] = {}
        self.streams: asyncio.Queue[Stream | None] = asyncio.Queue()  # None: the connection ended

    # -- reading --------------------------------------------------------------------------------
    async def feed(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) >= 8:
            head, flags_len = struct.unpack(">II", self._buffer[:8])
            length = flags_len & 0xFFFFFF
            if len(self._buffer) < 8 + length:
                return
            payload, self._buffer = self._buffer[8 : 8 + length], self._buffer[8 + length :]
            flags = flags_len >> 24
            if head & 0x80000000:
                await self._control(head & 0xFFFF, flags, payload)
            else:
                stream = self.by_id.get(head & 0x7FFFFFFF)
                if stream is not None:
                    if payload:
                        stream.incoming.put_nowait(payload)
                    if flags & FLAG_FIN:
                        stream.incoming.put_nowait(None)

    def end(self) -> None:
        """The connection closed: every stream and the stream queue see their end."""
        for stream in self.by_id.values():
            stream.incoming.put_nowait(None)
        self.streams.put_nowait(None)

    async def _control(self, kind: int, flags: int, payload: bytes) -> None:
        if kind == SYN_STREAM:
            (stream_id,) = struct.unpack(">I", payload[:4])
            stream = Stream(self, stream_id & 0x7FFFFFFF, self._headers(payload[10:]))
            self.by_id[stream.id] = stream
            async with self._lock:  # compressed and sent in one step: the zlib stream is ordered
                block = self._header_block({})
                await self._write_control(SYN_REPLY, 0, struct.pack(">I", stream.id) + block)
            if flags & FLAG_FIN:
                stream.incoming.put_nowait(None)
            self.streams.put_nowait(stream)
        elif kind == PING:
            await self._send_control(PING, 0, payload)
        elif kind == RST_STREAM:
            (stream_id,) = struct.unpack(">I", payload[:4])
            reset = self.by_id.get(stream_id & 0x7FFFFFFF)
            if reset is not None:
                reset.closed = True
                reset.incoming.put_nowait(None)
        elif kind == HEADERS:
            self._headers(payload[4:])  # keeps the compression context in step
        elif kind == GOAWAY:
            self.end()

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        (count,) = struct.unpack(">I", raw[:4])
        pos, out = 4, {}
        for _ in range(count):
            (n,) = struct.unpack(">I", raw[pos : pos + 4])
            name = raw[pos + 4 : pos + 4 + n].decode()
            pos += 4 + n
            (n,) = struct.unpack(">I", raw[pos : pos + 4])
            out[name.lower()] = raw[pos + 4 : pos + 4 + n].decode().split("\x00")[0]
            pos += 4 + n
        return out

    # -- writing --------------------------------------------------------------------------------
    def _header_block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    async def _write_control(self, kind: int, flags: int, payload: bytes) -> None:
        await self._write(struct.pack(">HHI", 0x8003, kind, (flags << 24) | len(payload)) + payload)

    async def _send_control(self, kind: int, flags: int, payload: bytes) -> None:
        async with self._lock:
            await self._write_control(kind, flags, payload)

    async def send_data(self, stream_id: int, data: bytes, *, fin: bool = False) -> None:
        frame = struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(data)) + data
        async with self._lock:
            await self._write(frame)

    async def go_away(self) -> None:
        await self._send_control(GOAWAY, 0, struct.pack(">II", 0, 0))
