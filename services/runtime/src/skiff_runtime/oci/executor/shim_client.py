"""The executor's end of a shim's control socket (``wire.py`` describes the protocol), and waiting for
a shim to be gone.

One request per connection keeps both ends trivial: connect, write one JSON line, read one JSON line.
A shim that does not accept the connection is gone (or not listening yet): ``ShimUnreachable``, and
callers fall back to the record and ``/proc``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

from skiff_runtime.oci.wire import SHIM_SOCKET, is_alive


class ShimUnreachable(Exception):
    """The shim is gone (or not listening yet): callers fall back to the state file."""


async def request(
    state_dir: Path,
    msg: dict[str, Any],
    timeout: float | None = 10.0,  # noqa: ASYNC109 - bounds only the wait for the answer, not connect
) -> dict[str, Any]:
    path = str(state_dir / SHIM_SOCKET)
    dirfd = -1
    try:
        if len(path.encode()) >= 100:
            dirfd = os.open(state_dir, os.O_PATH | os.O_CLOEXEC)
            path = f"/proc/self/fd/{dirfd}/{SHIM_SOCKET}"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await asyncio.get_running_loop().sock_connect(sock, path)
        except OSError as e:
            sock.close()
            raise ShimUnreachable(str(e)) from e
    finally:
        if dirfd >= 0:
            os.close(dirfd)
    # exec replies carry the command's output (base64, up to 2 x 16 MiB) on one line.
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=64 << 20)
    try:
        writer.write(json.dumps(msg).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(timeout):  # not wait_for: on 3.11 it can swallow a cancellation
            line = await reader.readline()
    except (ConnectionError, OSError) as e:
        raise ShimUnreachable(str(e)) from e
    finally:
        writer.close()
    if not line:
        raise ShimUnreachable("shim closed the connection without answering")
    reply = json.loads(line)
    if not isinstance(reply, dict):
        raise ShimUnreachable(f"shim answered something else than a JSON object: {line[:100]!r}")
    return reply


async def exited(pid: int, start: int, limit: float) -> bool:
    """Wait until the process (pid, start time) is gone, on a pidfd (no polling interval: delete()
    used to sleep in 20 ms steps while the shim exited). False if it is still there after limit."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_alive(pid, start):  # checked after opening: the pidfd is for this very process
            return True
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            async with asyncio.timeout(limit):
                await gone
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
