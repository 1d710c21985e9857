"""The shim's control protocol: one JSON object per line over a unix socket (``<state_dir>/shim.sock``).

Request ``{"op": ...}``, response ``{"ok": true, ...}`` or ``{"ok": false, "error": "..."}``; one
request per connection keeps both sides trivial. Operations:

==============  ============================================================================
``start``       release the init blocked before exec; answers once exec succeeded or failed
``kill``        ``{"signal": n}``: signal the init (the shim is its parent, so no pid-reuse race)
``wait``        answers when the container has stopped (the state file is already updated)
``reopen_log``  close and reopen the log path (log rotation)
``exec``        ``{"request": {...}, "timeout": s}``: run a command in the container (``shim_exec.py``);
                answers ``exit_code`` + base64 ``stdout``/``stderr``, or ``timeout: true``
``shutdown``    SIGKILL the init if still alive, remove the cgroup (native mode; answers
                ``cgroup_removed``), answer, then the shim exits at once (used by ``delete``)
==============  ============================================================================

The socket is only reachable through the state directory (mode 0700, root), which is the access
control. ``sun_path`` is limited to 108 bytes, so a long state path is reached through
``/proc/self/fd/<dirfd>/shim.sock`` instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from pathlib import Path
from typing import Any

from skiff_runtime.oci.state import SOCKET


class ShimUnreachable(Exception):
    """The shim is gone (or not listening yet): callers fall back to the state file."""


async def request(
    state_dir: Path,
    msg: dict[str, Any],
    timeout: float | None = 10.0,  # noqa: ASYNC109 - bounds only the wait for the answer, not connect
) -> dict[str, Any]:
    path = str(state_dir / SOCKET)
    dirfd = -1
    try:
        if len(path.encode()) >= 100:
            dirfd = os.open(state_dir, os.O_PATH | os.O_CLOEXEC)
            path = f"/proc/self/fd/{dirfd}/{SOCKET}"
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
    return json.loads(line)  # type: ignore[no-any-return]
