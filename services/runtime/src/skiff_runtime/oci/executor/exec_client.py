"""The caller's side of ``exec_sync``: ask the shim (fast path), else spawn ``nsexec`` (fallback).

The shim forks the command itself (``shim/execsync.py``). Only when the shim is unreachable (killed,
or an orphaned container after a crash) do we pay for a fresh interpreter running ``shim/nsexec.py``
(shim-side code, in a process of its own: the runtime service never ``setns``es itself), which
re-derives everything from the request and ``/proc``. Both paths take the same request dict and kill
the command when ``limit`` expires, raising ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any

from skiff_runtime.oci.errors import ExecutorError, InvalidState
from skiff_runtime.oci.executor import shim_client
from skiff_runtime.oci.wire import Op

NSEXEC = "skiff_runtime.oci.shim.nsexec"
_REPLY_GRACE = 30.0  # on top of the exec timeout: the shim itself enforces the limit


async def exec_in_container(
    state_dir: Path, request: dict[str, Any], limit: float | None, env: dict[str, str]
) -> tuple[int, bytes, bytes]:
    msg = {"op": Op.EXEC, "request": request, "timeout": limit}
    try:
        reply = await shim_client.request(state_dir, msg, None if limit is None else limit + _REPLY_GRACE)
    except shim_client.ShimUnreachable:
        return await _via_nsexec(request, limit, env)
    if reply.get("timeout"):
        raise TimeoutError(f"exec in {state_dir.name} timed out after {limit}s")
    if reply.get("unsupported"):
        raise InvalidState(str(reply.get("error")))
    if not reply.get("ok"):
        raise ExecutorError(f"exec in {state_dir.name}: {reply.get('error')}")
    return int(reply["exit_code"]), base64.b64decode(reply["stdout"]), base64.b64decode(reply["stderr"])


async def _via_nsexec(request: dict[str, Any], limit: float | None, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        NSEXEC,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        async with asyncio.timeout(limit):
            out, err = await proc.communicate(json.dumps(request).encode())
    except TimeoutError:
        proc.kill()  # the command dies with it: PR_SET_PDEATHSIG
        await proc.wait()
        raise TimeoutError(f"exec timed out after {limit}s") from None
    rc = proc.returncode or 0
    return (128 - rc if rc < 0 else rc), out, err
