"""SPDY/3.1 framing as pure logic, driven by a client written here from the spec's frame layout (the
e2e tests in tests/e2e/test_kubectl.py drive it with kubectl's own SPDY client)."""

from __future__ import annotations

import struct
import zlib

from skiff_apiserver.rest import spdy


class Client:
    def __init__(self) -> None:
        self.deflate = zlib.compressobj(zdict=spdy.DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=spdy.DICTIONARY)

    def syn_stream(self, stream_id: int, headers: dict[str, str], fin: bool = False) -> bytes:
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
        block = self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        payload = struct.pack(">IIH", stream_id, 0, 0) + block
        return struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, (int(fin) << 24) | len(payload)) + payload

    @staticmethod
    def data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
        return struct.pack(">II", stream_id, (int(fin) << 24) | len(data)) + data


def frames(raw: bytes) -> list[tuple[bool, int, int, bytes]]:
    """(control?, type or stream id, flags, payload) of each frame."""
    out = []
    while raw:
        head, flags_len = struct.unpack(">II", raw[:8])
        length = flags_len & 0xFFFFFF
        control = bool(head & 0x80000000)
        out.append((control, head & 0xFFFF if control else head, flags_len >> 24, raw[8 : 8 + length]))
        raw = raw[8 + length :]
    return out


async def test_streams_data_fin_and_ping() -> None:
    sent: list[bytes] = []

    async def write(data: bytes) -> None:
        sent.append(data)

    session, client = spdy.Session(write), Client()
    wire = client.syn_stream(1, {"streamType": "error"}) + client.syn_stream(3, {"streamType": "stdin", "port": "80"})
    await session.feed(wire[:5])  # frames may arrive split anywhere
    await session.feed(wire[5:] + client.data(3, b"hello") + client.data(3, b"", fin=True))
    first, second = await session.streams.get(), await session.streams.get()
    assert first is not None and second is not None
    assert (first.id, first.headers) == (1, {"streamtype": "error"})
    assert second.headers == {"streamtype": "stdin", "port": "80"}
    assert [await second.read(), await second.read()] == [b"hello", None]
    replies = frames(b"".join(sent))
    assert [(c, t) for c, t, _, _ in replies] == [(True, spdy.SYN_REPLY), (True, spdy.SYN_REPLY)]
    assert struct.unpack(">I", replies[1][3][:4])[0] == 3
    client.inflate.decompress(replies[0][3][4:])  # our header blocks decode with the dictionary
    sent.clear()
    await first.write(b'{"status":"Success"}')
    await first.close()
    await session.feed(struct.pack(">HHII", 0x8003, spdy.PING, 4, 7))
    assert frames(b"".join(sent)) == [
        (False, 1, 0, b'{"status":"Success"}'),
        (False, 1, spdy.FLAG_FIN, b""),
        (True, spdy.PING, 0, struct.pack(">I", 7)),
    ]
    session.end()
    assert await session.streams.get() is None


def test_dictionary_is_spdy3s() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert spdy.DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06origin100101201" in spdy.DICTIONARY and spdy.DICTIONARY.endswith(b",*,enq=0.")
