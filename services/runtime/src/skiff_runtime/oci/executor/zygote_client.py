"""The executor's side of the shim factory (``shim/zygote.py``): find it, start it, ask it for a shim.

One factory per state root, shared by every ``SkiffExecutor``/``RuncExecutor`` on that root (in this
process or another) and outliving them: the runtime service can restart without restarting it.

Finding it: connect to ``<state_root>/zygote.sock`` (via ``/proc/self/fd/<dirfd>/`` when the path is
too long for ``sun_path``) and check ``SO_PEERCRED``: a socket served by anything but uid 0 is
foreign and never used. Starting it (connect failed: no socket, or a stale one left by a dead
factory): under ``zygote.lock`` (``flock``, so concurrent creates in several processes start only
one), connect once more, then spawn ``python -m skiff_runtime.oci.shim.zygote`` detached and wait for
its "ok" on a pipe; it unlinks the stale socket and binds a fresh one. That first create pays the
interpreter start-up once; every later create pays a fork.

When may the executor fall back to ``python -m skiff_runtime.oci.shim``? Only when no shim can have
been forked: ``ZygoteUnavailable`` is raised for connect/start/send failures and explicit refusals.
Once the request is sent, the factory may have forked even if its answer is lost (it died, or hung
and was killed after ``REPLY_TIMEOUT``): ``spawn()`` then returns ``None`` and the executor reads the
ready pipe as usual — a forked shim answers there, and if nothing was forked the pipe's EOF fails the
create. Never two shims for one container.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import skiff_runtime
from skiff_runtime.oci.wire import FACTORY_SOCKET, code_id, peer_uid, ucred

SOCKET = FACTORY_SOCKET
FACTORY = "skiff_runtime.oci.shim.zygote"  # its command line: conftest.py and tests/interop match it
SPAWN_LOCK = "zygote.lock"
LOG = "zygote.log"
DISABLE_ENV = "SKIFF_OCI_ZYGOTE"  # "0": always spawn python -m skiff_runtime.oci.shim (the old path)
REPLY_TIMEOUT = 10.0
START_TIMEOUT = 30.0  # an interpreter start on a loaded 2-core machine can take seconds

log = logging.getLogger("skiff.oci.zygote")


class ZygoteUnavailable(Exception):
    """The factory could not be used and forked nothing: the caller may spawn the shim itself."""


def enabled_by_env() -> bool:
    return os.environ.get(DISABLE_ENV, "1") not in ("0", "false", "no", "off")


def pythonpath() -> str:
    """Make our modules importable exactly as we are, even when not installed (tests, zipapps)."""
    ours = str(Path(skiff_runtime.__file__).resolve().parent.parent)
    rest = os.environ.get("PYTHONPATH", "")
    return f"{ours}{os.pathsep}{rest}" if rest else ours


def popen_detached(cmd: list[str], log: Path, ready_w: int) -> subprocess.Popen[bytes]:
    """fork+exec only (no waiting), cheap enough to call from the event loop. The new session keeps
    the child out of the runtime service's process group (no terminal/group signals reach it)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            pass_fds=(ready_w,),
            start_new_session=True,
            env={**os.environ, "PYTHONPATH": pythonpath()},
        )


async def read_pipe(fd: int) -> bytes:
    """Read a pipe to EOF on the event loop (no thread), closing it; cancelling closes it at once."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        chunk = os.read(fd, 65536)
        if chunk:
            chunks.append(chunk)
        elif not done.done():
            done.set_result(b"".join(chunks))

    os.set_blocking(fd, False)
    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class ZygoteClient:
    def __init__(self, state_root: Path) -> None:
        self.state_root = state_root
        self._lock: asyncio.Lock | None = None  # created lazily: bound to the loop that first uses it

    async def spawn(self, argv: list[str], ready_w: int, shim_log: Path) -> int | None:
        """Have the factory fork a shim running ``shim.main(argv + ["--ready-fd", ...])``.

        Returns the forked pid, or None when the answer was lost after sending (see the module doc);
        raises ZygoteUnavailable when nothing was forked."""
        for _ in range(2):  # a stale factory (older code) steps aside; the second try starts a new one
            sock = await self._connect_or_start()
            try:
                reply = await self._request(sock, argv, ready_w, shim_log)
            finally:
                sock.close()
            if reply is None or reply.get("ok"):
                return None if reply is None else int(reply["pid"])
            if not reply.get("stale"):
                raise ZygoteUnavailable(str(reply.get("error")))
        raise ZygoteUnavailable("the factory kept answering 'stale'")

    async def _connect(self) -> socket.socket:
        path = str(self.state_root / SOCKET)
        dirfd = -1
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            if len(path.encode()) >= 100:
                dirfd = os.open(self.state_root, os.O_PATH | os.O_CLOEXEC)
                path = f"/proc/self/fd/{dirfd}/{SOCKET}"
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, path)
            uid = peer_uid(sock)
            if uid != 0:
                raise ZygoteUnavailable(f"{SOCKET} is served by uid {uid}, not root: refusing it")
        except OSError as e:
            sock.close()
            raise ZygoteUnavailable(f"connect {SOCKET}: {e}") from None
        except BaseException:
            sock.close()
            raise
        finally:
            if dirfd >= 0:
                os.close(dirfd)
        return sock

    async def _connect_or_start(self) -> socket.socket:
        with contextlib.suppress(ZygoteUnavailable):
            return await self._connect()
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:  # one start per executor; zygote.lock serialises processes
            with contextlib.suppress(ZygoteUnavailable):
                return await self._connect()
            self.state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock_fd = os.open(self.state_root / SPAWN_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                await _flock(lock_fd)
                with contextlib.suppress(ZygoteUnavailable):
                    return await self._connect()
                await self._start_factory()
                return await self._connect()
            finally:
                os.close(lock_fd)  # releases the flock

    async def _start_factory(self) -> None:
        log.info("starting the shim factory for %s", self.state_root)
        ready_r, ready_w = os.pipe()
        cmd = [sys.executable, "-m", FACTORY]
        cmd += ["--state-root", str(self.state_root), "--ready-fd", str(ready_w)]
        try:
            proc = popen_detached(cmd, self.state_root / LOG, ready_w)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        try:
            async with asyncio.timeout(START_TIMEOUT):
                raw = await read_pipe(ready_r)
        except TimeoutError:
            raw = b""
        finally:
            await asyncio.to_thread(proc.wait)  # the first process exits right after daemonizing
        if raw != b"ok":
            raise ZygoteUnavailable(f"the shim factory did not start (see {self.state_root / LOG})")

    async def _request(
        self, sock: socket.socket, argv: list[str], ready_w: int, shim_log: Path
    ) -> dict[str, Any] | None:
        log_fd = os.open(shim_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            payload = json.dumps({"argv": argv, "code": code_id()}).encode()
            fds = array.array("i", [ready_w, log_fd])
            try:
                sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])
            except OSError as e:  # nothing was delivered, so nothing was forked
                raise ZygoteUnavailable(f"send to the shim factory: {e}") from None
        finally:
            os.close(log_fd)
        # Sent: the factory forks a shim whatever happens to us now. A cancelled create() still waits
        # for the answer (shielded), so that it never returns while a shim it asked for is yet to be
        # forked; that shim then finds nobody on the ready pipe and removes what it made.
        answer = asyncio.ensure_future(_reply(sock))
        try:
            data = await asyncio.shield(answer)
        except asyncio.CancelledError:
            await answer
            raise
        if not data:
            return None
        reply = json.loads(data)
        return reply if isinstance(reply, dict) else None


async def _reply(sock: socket.socket) -> bytes:
    """The factory's answer; b"" if it was lost (the factory died, or hung and was killed)."""
    try:
        async with asyncio.timeout(REPLY_TIMEOUT):
            return await asyncio.get_running_loop().sock_recv(sock, 1 << 16)
    except TimeoutError:
        pid = ucred(sock)[0]
        log.warning("shim factory (pid %s) did not answer in %ss: killing it", pid, REPLY_TIMEOUT)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        return b""
    except OSError:
        return b""


async def _flock(fd: int) -> None:
    """Exclusive flock without a thread (a cancelled waiter must not take the lock later)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise ZygoteUnavailable(f"{SPAWN_LOCK} held for {START_TIMEOUT}s") from None
            await asyncio.sleep(0.01)


def stop_factory(state_root: Path, timeout: float = 5.0) -> bool:
    """Kill the factory serving state_root, if any, and wait until it is gone (tests, benchmarks).
    Shims are unaffected. True if one was running."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    dirfd = os.open(state_root, os.O_PATH | os.O_CLOEXEC) if state_root.is_dir() else -1
    try:
        if dirfd < 0:
            return False
        sock.connect(f"/proc/self/fd/{dirfd}/{SOCKET}")
        pid, uid, _ = ucred(sock)
    except OSError:
        return False
    finally:
        sock.close()
        if dirfd >= 0:
            os.close(dirfd)
    if uid != 0:
        return False
    pidfd = os.pidfd_open(pid)
    try:
        os.kill(pid, signal.SIGKILL)
        select.select([pidfd], [], [], timeout)
    finally:
        os.close(pidfd)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(state_root / SOCKET)
    return True
