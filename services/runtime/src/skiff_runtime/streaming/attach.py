"""Attach: the container's stdout/stderr from now on, read back from its CRI log file.

Our containers are created without stdin or a tty (CreateContainer refuses both), and the shim owns
their stdout/stderr, writing every line to the CRI log (``<RFC3339Nano> stdout|stderr F|P <text>``).
Following that file gives attach the same bytes the shim saw, in order, without a second consumer on
the shim's pipes, and it works unchanged after a runtime restart. ``F`` lines end with the newline the
log format took off; ``P`` (partial) lines are sent as they are.

We start at the current end of the file, poll it (a few times a second: attach is interactive but
rare, not worth an inotify watch), and reopen it from the start when ReopenContainerLog rotated it
(new inode, or a file shorter than our offset). The session ends when the client closes the socket,
or when the container stops (after the rest of the log is sent, with a Success status).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skiff_runtime.streaming import channels as ch

POLL = 0.2


@dataclass(frozen=True)
class AttachTarget:
    container_id: str
    log_path: str
    stdout: bool
    stderr: bool


def parse_line(line: bytes) -> tuple[int, bytes] | None:
    """(channel, payload) of one CRI log line; None for a line that is not in the format."""
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3 or parts[1] not in (b"stdout", b"stderr") or parts[2] not in (b"F", b"P"):
        return None
    text = parts[3] if len(parts) == 4 else b""
    return (ch.STDOUT if parts[1] == b"stdout" else ch.STDERR), text + (b"\n" if parts[2] == b"F" else b"")


class LogFollower:
    """Complete lines appended to a file since construction, surviving rotation."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.inode = 0
        self.offset = 0
        self.buffer = b""
        try:
            st = os.stat(path)
            self.inode, self.offset = st.st_ino, st.st_size
        except FileNotFoundError:
            pass

    def read_lines(self) -> list[bytes]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        if st.st_ino != self.inode or st.st_size < self.offset:  # rotated (or truncated): a new file
            self.inode, self.offset, self.buffer = st.st_ino, 0, b""
        if st.st_size == self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(st.st_size - self.offset)
        self.offset += len(data)
        *lines, self.buffer = (self.buffer + data).split(b"\n")
        return lines


async def serve_attach(sock: ch.ChannelSocket, target: AttachTarget, running: Callable[[], Awaitable[bool]]) -> None:
    follower = LogFollower(target.log_path)
    wanted = {ch.STDOUT: target.stdout, ch.STDERR: target.stderr}
    closed = asyncio.create_task(_until_closed(sock))
    try:
        while not closed.done():
            alive = await running()  # asked before reading, so nothing written before the exit is lost
            for line in await asyncio.to_thread(follower.read_lines):
                parsed = parse_line(line)
                if parsed is not None and wanted[parsed[0]]:
                    await sock.send(*parsed)
            if not alive:
                await sock.send_status(ch.success())
                await sock.close()
                return
            await asyncio.wait({closed}, timeout=POLL)
    finally:
        closed.cancel()


async def _until_closed(sock: ch.ChannelSocket) -> None:
    """Read (and ignore: no stdin, no tty) until the client closes."""
    while await sock.receive() is not None:
        pass
