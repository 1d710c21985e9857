"""The shim's event loop after ``created``: pump logs, reap the init, answer control requests.

State machine (the shim is the only writer of ``state.json``)::

                 start                  init exits / is killed
    CREATED ───────────────> RUNNING ─────────────────────────> STOPPED ──delete──> (gone)
       │                                                           ▲
       └───────── kill, or exec fails (exit 127) ──────────────────┘

- No threads: after ``unshare(CLONE_NEWPID)`` the kernel refuses ``CLONE_THREAD`` in the shim, so
  everything is non-blocking fds on one event loop.
- ``exec`` requests fork the command right here (``execsync.py``): our children are born in the
  container's pid namespace, which saves an interpreter start per exec probe.
- ``start`` is delegated to a ``starter`` coroutine: the native exec-pipe handshake (``native.py``) or
  ``runc start`` (``runc.py``); the rest of the supervisor does not care which.
- The control socket's requests and answers are described in ``oci/wire.py``.
- Exit is observed with a pidfd (``os.pidfd_open``) registered with the loop: no SIGCHLD handler and no
  polling. The status is read with ``waitpid``; a signal death is recorded as ``128 + signo``.
- OOM: after the exit, the cgroup's ``oom_kill`` counter > 0 means the kernel's OOM killer killed a
  process of the container (``oom_killed``), the init or any other: containerd reports OOMKilled on
  any cgroup OOM event too, so a pod whose worker was killed and whose init then exited 1 is
  OOMKilled, not Error. The exit code stays the init's own.
- Logs: stdout/stderr pipes are read with ``add_reader`` into the CRI writer. After the init exits we
  give the pipes up to two seconds to reach EOF (a hostPID container's orphans may keep them open),
  so the last lines are in the log before STOPPED becomes visible.
- ``start`` writes RUNNING while the process execs (put back if exec fails), not after: each record
  write costs about a millisecond on a disk-backed state root, and here it overlaps the exec.
- ``shutdown`` (delete) removes the cgroup here in native mode and ``_exit``s right after answering:
  the event loop's orderly teardown bought nothing but a few ms on delete's critical path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from skiff_runtime.oci.cgroups import CgroupDriver
from skiff_runtime.oci.shim.execsync import run_exec
from skiff_runtime.oci.shim.logs import CriLogWriter
from skiff_runtime.oci.wire import SHIM_SOCKET, Op, Record, write_record

log = logging.getLogger("skiff.oci.shim")


def listen(state_dir: Path) -> socket.socket:
    """The control socket, listening: requests queue in its backlog until the event loop runs."""
    # Bind relative to the state dir: keeps sun_path short whatever the state root is.
    os.chdir(state_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.bind(SHIM_SOCKET)
    os.chmod(SHIM_SOCKET, 0o600)
    sock.listen(128)
    return sock


class Supervisor:
    def __init__(
        self,
        state_dir: Path,
        rec: Record,
        driver: CgroupDriver,
        *,
        stdout: int,
        stderr: int,
        starter: Callable[[], Awaitable[str | None]],
        exec_in_shim: bool = True,
        owns_cgroup: bool = True,
    ) -> None:
        self.state_dir = state_dir
        self.rec = rec
        self.driver = driver
        self.pipes = {stdout: "stdout", stderr: "stderr"}
        self.starter = starter  # releases the process blocked before exec; returns an error or None
        self.start_requested = False
        # Only when the shim's children are born in the container's pid namespace (native mode).
        self.exec_in_shim = exec_in_shim
        # Native mode made the cgroup, so "shutdown" removes it; under runc/crun, ``runc delete`` must
        # see it first (the executor removes it afterwards).
        self.owns_cgroup = owns_cgroup
        self.logs = CriLogWriter(rec.log_path)
        self.reaped = False
        self.abandoned = False
        self.stopped = asyncio.Event()
        self.pipes_closed = asyncio.Event()
        self.shutdown = asyncio.Event()

    def run(self, on_ready: Callable[[], None], sock: socket.socket | None = None) -> None:
        """Serve until shutdown. ``on_ready`` fires once the control socket listens, *before* the
        event loop starts: connections wait in the backlog until the loop serves them, so the loop's
        start-up (a few ms) overlaps the caller's next request instead of delaying create().
        ``sock``: already made by ``listen()`` (the native shim does that while its init sets up)."""
        if sock is None:
            sock = listen(self.state_dir)
        on_ready()
        asyncio.run(self.serve(sock))

    async def serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for fd in self.pipes:
            os.set_blocking(fd, False)
            loop.add_reader(fd, self._on_output, fd)
        pidfd = os.pidfd_open(self.rec.pid)
        loop.add_reader(pidfd, self._on_exit, pidfd)
        if self.abandoned:  # create() already gave up: nobody will connect
            sock.close()
            await self._teardown()
        else:
            server = await asyncio.start_unix_server(self._serve, sock=sock)
            await self.shutdown.wait()
            server.close()
        self.logs.close()

    def abandon(self) -> None:
        """Kill the init, remove the cgroup and state dir, exit: the creator went away before "ok"."""
        log.warning("container %s: create() was abandoned by the caller; tearing down", self.rec.id)
        if not self.reaped:
            os.kill(self.rec.pid, signal.SIGKILL)
        self.abandoned = True  # called before serve(): it starts the teardown

    async def _teardown(self) -> None:
        await self.stopped.wait()
        try:
            self.driver.kill_all(self.rec.cgroups_path)
            self.driver.remove(self.rec.cgroups_path)
        except OSError:
            traceback.print_exc()
        shutil.rmtree(self.state_dir, ignore_errors=True)
        self.shutdown.set()

    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            self.logs.write(self.pipes[fd], data)
            return
        asyncio.get_running_loop().remove_reader(fd)
        os.close(fd)
        self.logs.flush(self.pipes.pop(fd))
        if not self.pipes:
            self.pipes_closed.set()

    def _on_exit(self, pidfd: int) -> None:
        asyncio.get_running_loop().remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(self.rec.pid, 0)
        self.reaped = True
        code = os.waitstatus_to_exitcode(status)
        self.rec.exit_code = 128 - code if code < 0 else code
        self.rec.finished_at = time.time()
        try:
            self.rec.oom_killed = self.driver.oom_kill_count(self.rec.cgroups_path) > 0
        except OSError:
            traceback.print_exc()
        log.info("container %s exited: code=%s oom_killed=%s", self.rec.id, self.rec.exit_code, self.rec.oom_killed)
        asyncio.get_running_loop().create_task(self._finish())

    async def _finish(self) -> None:
        try:
            async with asyncio.timeout(2.0):
                await self.pipes_closed.wait()
        except TimeoutError:
            pass
        self.rec.status = "stopped"
        try:
            write_record(self.state_dir, self.rec)
        except FileNotFoundError:
            pass  # state dir already removed (abandoned create)
        self.stopped.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        req: dict[str, Any] = {}
        try:
            line = await reader.readline()
            req = json.loads(line)
            if req.get("op") == Op.EXEC:
                reply = await self._exec(req, reader)
            else:
                reply = await self._handle(req)
        except Exception as e:  # a bad request must never take the shim down
            traceback.print_exc()
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        try:
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            writer.close()
        except ConnectionError:
            pass
        if req.get("op") == Op.SHUTDOWN and reply.get("ok"):
            self._exit_now()

    async def _exec(self, req: dict[str, Any], reader: asyncio.StreamReader) -> dict[str, Any]:
        """Run an exec request (execsync.py); a caller that hangs up cancels it."""
        if self.rec.status != "running" or self.reaped or not self.exec_in_shim:
            return {"ok": False, "unsupported": True, "error": f"cannot exec: container is {self.rec.status}"}
        body = req["request"]
        if body.get("pid") != self.rec.pid:
            return {"ok": False, "error": "exec request is for another container init"}
        limit = req.get("timeout")
        task = asyncio.create_task(run_exec(body, limit, self.driver, self.rec.cgroups_path))
        hangup = asyncio.create_task(reader.read(1))
        await asyncio.wait({task, hangup}, return_when=asyncio.FIRST_COMPLETED)
        hangup.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return {"ok": False, "error": "caller went away"}
        return task.result()

    async def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == Op.START:
            return await self._start()
        if op == Op.KILL:
            log.info("container %s: kill signal %s", self.rec.id, req.get("signal"))
            if not self.reaped:
                os.kill(self.rec.pid, int(req["signal"]))
            return {"ok": True}
        if op == Op.WAIT:
            await self.stopped.wait()
            return {"ok": True}
        if op == Op.REOPEN_LOG:
            self.logs.reopen()
            return {"ok": True}
        if op == Op.SHUTDOWN:
            log.info("container %s: shutdown", self.rec.id)
            if not self.reaped:
                os.kill(self.rec.pid, signal.SIGKILL)
            await self.stopped.wait()
            removed = self._remove_cgroup()
            return {"ok": True, "cgroup_removed": removed}
        return {"ok": False, "error": f"unknown op {op!r}"}

    def _remove_cgroup(self) -> bool:
        """Kill what is left in the container's cgroup and remove it, here rather than in ``delete``:
        the driver is at hand and delete does not wait for a second set of cgroup probes and thread
        hops. False (the executor then does it, and reports the error) on failure or under runc."""
        if not self.owns_cgroup:
            return False
        try:
            self.driver.kill_all(self.rec.cgroups_path)
            self.driver.remove(self.rec.cgroups_path)
            return True
        except OSError:
            traceback.print_exc()
            return False

    def _exit_now(self) -> None:
        """Leave right after answering "shutdown": the container is reaped and recorded, the logs are
        flushed here, and nothing else is worth the event loop's orderly teardown (cancelling tasks,
        closing transports: a few ms that ``delete`` would wait for). ``_exit`` also skips interpreter
        shutdown when the shim is not a factory child."""
        self.logs.close()
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(0)

    async def _start(self) -> dict[str, Any]:
        if self.rec.status != "created" or self.start_requested:
            return {"ok": False, "error": f"container is {self.rec.status}, not created"}
        self.start_requested = True
        # Set before releasing the process: a fast one may exit, and be recorded STOPPED, before the
        # starter returns; that record must already carry started_at (<= finished_at).
        self.rec.started_at = time.time()
        starting = asyncio.ensure_future(self.starter())
        await asyncio.sleep(0)  # the starter releases the process ("S", or runc start spawned)
        # Record RUNNING while the process execs, not after: the write (about a millisecond on a
        # disk-backed state root) then overlaps the exec instead of delaying the answer. Nobody
        # reads it before we answer except a caller of state(), to whom "running" is what start()
        # is doing; a failed exec puts the record back below.
        if self.rec.status == "created":  # it may already have run to completion
            self.rec.status = "running"
            write_record(self.state_dir, self.rec)
        error = await starting
        log.info("container %s: start %s", self.rec.id, f"failed: {error}" if error else "ok")
        if error:
            self.rec.started_at = None  # it never ran
            if self.rec.status == "running":  # not yet reaped: CREATED until the exit is recorded
                self.rec.status = "created"
            write_record(self.state_dir, self.rec)
            return {"ok": False, "error": error}
        return {"ok": True}
