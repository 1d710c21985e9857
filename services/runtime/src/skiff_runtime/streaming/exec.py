"""A streaming exec session: the helper process (``nsenter.py``) on one side, a channel socket on the other.

Without a tty the command's stdin/stdout/stderr are pipes to us, relayed to channels 0/1/2. With a tty
the command's stdio is the slave of a pty opened inside the container; we hold the master, relay it
to channel 1 (a terminal has no separate stderr, and the kubelet refuses tty+stderr) and apply resize
messages (channel 4, ``{"Width": w, "Height": h}``) with ``TIOCSWINSZ``.

The session ends when the command exits: remaining output is drained (for as long as it keeps coming:
a background job may hold the pipes open for ever, so a second of silence ends it), the status goes
out on channel 3 and the socket is closed. If
the client goes away first, the helper is SIGKILLed and the command dies with it (PDEATHSIG), so no
exec outlives its stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import socket
import struct
import sys
import termios
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import skiff_runtime
from skiff_runtime.oci.spec import load_spec
from skiff_runtime.oci.stdio import empty_stdin
from skiff_runtime.oci.wire import exec_request, is_alive, read_record
from skiff_runtime.streaming import channels as ch
from skiff_runtime.streaming.fdio import close_quietly, read_chunk, write_all

DRAIN_GRACE = 1.0


@dataclass(frozen=True)
class ExecTarget:
    container_id: str
    argv: list[str]
    tty: bool
    stdin: bool
    stdout: bool
    stderr: bool


def helper_request(oci_state_root: Path, target: ExecTarget) -> dict[str, Any]:
    """What ``nsenter.py`` needs, from the executor's on-disk state (the shim's record and the bundle),
    shaped exactly like the executor's own ``nsexec`` request."""
    rec = read_record(oci_state_root / target.container_id)
    if rec is None or not is_alive(rec.pid, rec.pid_start):
        raise ProcessLookupError(f"container {target.container_id} is not running")
    spec = load_spec(Path(rec.bundle))
    env = [*spec.process.env, *(["TERM=xterm"] if target.tty else [])]
    return {**exec_request(rec, spec, target.argv, env), "tty": target.tty}


def _helper_env() -> dict[str, str]:
    """The helper imports us exactly as we are, installed or not (tests run from the source tree)."""
    ours = str(Path(skiff_runtime.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ours}{os.pathsep}{rest}" if rest else ours}


async def _receive_master(control: socket.socket) -> int | None:
    def receive() -> int | None:
        control.settimeout(30)
        _, fds, _, _ = socket.recv_fds(control, 16, 1)
        return fds[0] if fds else None  # EOF without a fd: the helper failed (its stderr says why)

    try:
        return await asyncio.to_thread(receive)
    except OSError:
        return None


def _resize(master: int, data: bytes) -> None:
    try:
        size = json.loads(data)
        rows, cols = int(size["Height"]), int(size["Width"])
    except (ValueError, KeyError, TypeError):
        return  # a malformed resize is ignored, as the kubelet does
    if 0 < rows < 65536 and 0 < cols < 65536:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


async def _start_helper(target: ExecTarget, request: dict[str, Any]) -> tuple[asyncio.subprocess.Process, int | None]:
    """Spawn ``nsenter.py``, hand it the request; for a tty, receive the pty master (None if it failed)."""
    ours, theirs = socket.socketpair()
    pipe, null = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    piped_stdin = target.stdin and not target.tty
    stdin = pipe if piped_stdin else empty_stdin()  # not the host's /dev/null (oci/stdio.py)
    with ours:
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "skiff_runtime.streaming.nsenter",
                "--control-fd",
                str(theirs.fileno()),
                "--parent",
                str(os.getpid()),
                stdin=stdin,
                stdout=pipe if not target.tty else null,
                stderr=pipe,  # without a tty: the command's stderr; with one: the helper's own failures
                pass_fds=(theirs.fileno(),),
                env=_helper_env(),
            )
        finally:
            theirs.close()
            if not piped_stdin:
                os.close(stdin)
        try:
            ours.setblocking(False)
            await asyncio.get_running_loop().sock_sendall(ours, json.dumps(request).encode())
            ours.shutdown(socket.SHUT_WR)
            return proc, (await _receive_master(ours) if target.tty else None)
        except BaseException:
            proc.kill()
            await proc.wait()
            raise


async def serve_exec(sock: ch.ChannelSocket, target: ExecTarget, request: dict[str, Any]) -> None:
    proc, master = await _start_helper(target, request)
    assert proc.stderr is not None
    out, err = (ch.STDOUT if target.stdout else None), (ch.STDERR if target.stderr else None)
    progress = _Progress()
    pumps: list[asyncio.Task[None]] = []
    waits: list[asyncio.Task[Any]] = []
    try:
        if target.tty and master is None:
            message = (await proc.stderr.read()).decode(errors="replace").strip()
            await proc.wait()
            await sock.send_status(ch.internal_error(message or "exec helper failed before starting the command"))
            return
        if master is not None:
            os.set_blocking(master, False)
            pumps.append(asyncio.create_task(_pump_fd(master, sock, out, progress)))
            pumps.append(asyncio.create_task(_pump(proc.stderr, sock, out, progress)))  # helper failures
        else:
            assert proc.stdout is not None
            pumps.append(asyncio.create_task(_pump(proc.stdout, sock, out, progress)))
            pumps.append(asyncio.create_task(_pump(proc.stderr, sock, err, progress)))
        inputs = asyncio.create_task(_input(sock, proc.stdin, master))
        exited = asyncio.create_task(proc.wait())
        waits += [inputs, exited]
        await asyncio.wait({inputs, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            return  # the client went away: `finally` kills the command
        await _drain(pumps, progress)
        code = proc.returncode or 0
        code = 128 - code if code < 0 else code
        await sock.send_status(ch.success() if code == 0 else ch.exit_status(code, target.argv))
        await sock.close()
    finally:
        for task in pumps + waits:
            task.cancel()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        close_quietly(master)


@dataclass
class _Progress:
    """Tells a slow client (a send in flight, or chunks still coming) from an orphan holding the pipes."""

    chunks: int = 0
    sending: int = 0


async def _drain(tasks: list[asyncio.Task[None]], progress: _Progress) -> None:
    """After the command exited: let the output pumps finish while they make progress. A background
    job that inherited the pipes keeps them open for ever, so a whole grace period without a chunk
    (and no send in flight) ends the wait; a slow client receiving a large output does not."""
    while True:
        seen = progress.chunks
        _, pending = await asyncio.wait(tasks, timeout=DRAIN_GRACE)
        if not pending or (progress.chunks == seen and not progress.sending):
            return


async def _forward(sock: ch.ChannelSocket, channel: int | None, data: bytes, progress: _Progress) -> None:
    progress.chunks += 1
    if channel is None:
        return  # the client did not ask for this stream: read and dropped, so the command never blocks
    progress.sending += 1
    try:
        await sock.send(channel, data)
    finally:
        progress.sending -= 1


async def _pump(reader: asyncio.StreamReader, sock: ch.ChannelSocket, channel: int | None, progress: _Progress) -> None:
    while data := await reader.read(65536):
        await _forward(sock, channel, data, progress)


async def _pump_fd(fd: int, sock: ch.ChannelSocket, channel: int | None, progress: _Progress) -> None:
    while data := await read_chunk(fd):
        await _forward(sock, channel, data, progress)


async def _input(sock: ch.ChannelSocket, stdin: asyncio.StreamWriter | None, master: int | None) -> None:
    """Client -> command, until the client closes the socket."""
    while (msg := await sock.receive()) is not None:
        channel, data = msg
        if channel == ch.STDIN and data:
            if master is not None:
                await write_all(master, data)
            elif stdin is not None and not stdin.is_closing():
                with contextlib.suppress(ConnectionError):
                    stdin.write(data)
                    await stdin.drain()
        elif channel == ch.RESIZE and master is not None:
            _resize(master, data)
        elif channel == ch.CLOSE and sock.protocol.close_signal and data[:1] == bytes([ch.STDIN]):
            if stdin is not None:
                stdin.close()  # EOF for the command (`cat` ends); a terminal has no separate stdin to close
