"""The native backend: our own isolation. The shim forks the container init (``container_init.py``)
into the container's pid namespace, puts it in its cgroup from outside while the init sets up its
namespaces and rootfs, and answers create() once the init waits before exec. ``start`` is the pipe
handshake of ``PipeStarter``. The sequence is drawn in ``shim/__init__.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import CgroupDriver, host_driver
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.shim.answer import created_record, failure, ready_callback, report
from skiff_runtime.oci.shim.container_init import run_init
from skiff_runtime.oci.shim.supervisor import Supervisor, listen
from skiff_runtime.oci.spec import Resources, Spec, load_spec
from skiff_runtime.oci.wire import CreateReply, Record, write_record


def _enter_pid_namespace(spec: Spec) -> None:
    ns = spec.namespace("pid")
    if ns is None:
        return  # hostPID: the container shares the host pid namespace
    if ns.path:
        fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sc.setns(fd, sc.CLONE_NEWPID)
        finally:
            os.close(fd)
    else:
        sc.unshare(sc.CLONE_NEWPID)


def _read_sync(fd: int) -> bytes:
    """Read the init's first message: b"R" (ready) or b"E..." (error) or b"" (it died)."""
    first = os.read(fd, 1)
    if first != b"E":
        return first
    chunks = [first]
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _join_cgroup(
    driver: CgroupDriver, cgroups_path: str, resources: Resources, pid: int, cgroup_w: int, sync_r: int
) -> None:
    """Create the cgroup and put the init in it from here while it sets up its namespaces and rootfs,
    then let it pass its cgroup gate ("C"; ``container_init.py``). Both steps are slow on cgroup v1
    (mkdir in every hierarchy; the cgroup.procs write waits for an RCU grace period) and used to
    precede the fork.
    ``pid`` is as fork() saw it, in our own pid namespace: the one ``cgroup.procs`` reads it in.
    On failure the init is killed before it could run anything."""
    try:
        driver.create(cgroups_path, resources)
        driver.add_process(cgroups_path, pid)
    except BaseException as e:
        os.close(cgroup_w)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        msg = _read_sync(sync_r)  # the init may have failed first (then the write saw ESRCH): say why
        if msg.startswith(b"E") and not isinstance(e, InvalidBundle):
            raise RuntimeError(f"container init failed: {msg[1:].decode(errors='replace')}") from None
        raise
    try:
        os.write(cgroup_w, b"C")
    except BrokenPipeError:
        pass  # the init already failed; its "E" is on the sync pipe
    os.close(cgroup_w)


class PipeStarter:
    """The shim's half of the start handshake: write "S" on the start pipe, then read the sync pipe
    to EOF (close-on-exec closed it: exec succeeded) or to "E<reason>" (exec or privilege drop failed).
    Reads go through the event loop, never a thread (CLONE_THREAD is refused after CLONE_NEWPID)."""

    def __init__(self, sync_r: int, start_w: int) -> None:
        self.sync_r = sync_r
        self.start_w = start_w

    async def __call__(self) -> str | None:
        try:
            os.write(self.start_w, b"S")
        except BrokenPipeError:
            pass  # the init already died; its exit is being recorded
        os.close(self.start_w)
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bytes] = loop.create_future()
        chunks: list[bytes] = []

        def readable() -> None:
            try:
                chunk = os.read(self.sync_r, 65536)
            except BlockingIOError:
                return
            if chunk:
                chunks.append(chunk)
                return
            loop.remove_reader(self.sync_r)
            os.close(self.sync_r)
            done.set_result(b"".join(chunks))

        os.set_blocking(self.sync_r, False)
        loop.add_reader(self.sync_r, readable)
        msg = await done
        return (msg[1:].decode(errors="replace") or "container init failed") if msg else None


@dataclass
class Prepared:
    """A native container whose init is forked and in its cgroup, with its record written and its
    control socket listening, while the init may still be setting up its namespaces and rootfs."""

    args: argparse.Namespace
    driver: CgroupDriver
    rec: Record
    sock: socket.socket
    stdout: int
    stderr: int
    sync_r: int
    start_w: int
    stamps: tuple[int, int, int, int]  # time.time_ns(): create began, init forked, in its cgroup, recorded

    def run(self) -> int:
        """Wait for the init's "R", answer create(), then supervise until shutdown. The event loop
        starts only after the answer: its start-up (~1 ms) then overlaps the caller's next request
        rather than the init's last set-up steps, which rarely leave the shim idle for that long."""
        msg = _read_sync(self.sync_r)
        began, forked, joined, recorded = self.stamps
        phases = (
            ("shim.fork_init", began, forked),
            ("shim.join_cgroup", forked, joined),
            ("shim.write_record", joined, recorded),
            ("shim.init_setup", forked, time.time_ns()),  # namespaces, rootfs, until the init's "R"
        )
        if msg != b"R":
            os.waitpid(self.rec.pid, 0)
            reason = msg[1:].decode(errors="replace") or "container init exited during setup"
            print(f"container init failed: {reason}", file=sys.stderr)
            _fail(self.args.ready_fd, self.driver, self.rec.cgroups_path, f"container init failed: {reason}")
            return 1
        sup = Supervisor(
            Path(self.args.state_dir),
            self.rec,
            self.driver,
            stdout=self.stdout,
            stderr=self.stderr,
            starter=PipeStarter(self.sync_r, self.start_w),
        )
        sup.run(ready_callback(sup, self.args.ready_fd, phases), self.sock)
        return 0


def _fail(ready: int, driver: CgroupDriver | None, cgroups_path: str, why: CreateReply | str) -> None:
    """Remove what create made (the executor removes the state dir) and answer create() with why."""
    reply = CreateReply.failed(why) if isinstance(why, str) else why
    if driver is not None and cgroups_path:
        try:
            driver.kill_all(cgroups_path)
            driver.remove(cgroups_path)
        except OSError:
            traceback.print_exc()
    report(ready, reply)


def create_container(args: argparse.Namespace) -> Prepared | None:
    ready = args.ready_fd
    driver: CgroupDriver | None = None
    cgroups_path = ""
    pid = 0
    began = time.time_ns()
    try:
        spec = load_spec(Path(args.bundle))
        driver = host_driver()
        cgroups_path = spec.cgroups_path or f"/skiff/{args.id}"
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sync_r, sync_w = os.pipe()
        start_r, start_w = os.pipe()
        cgroup_r, cgroup_w = os.pipe()
        _enter_pid_namespace(spec)
        pid = os.fork()
        if pid == 0:
            run_init(spec, stdout=out_w, stderr=err_w, sync_w=sync_w, start_r=start_r, cgroup_r=cgroup_r)
        forked = time.time_ns()
        for fd in (out_w, err_w, sync_w, start_r, cgroup_r):
            os.close(fd)
        _join_cgroup(driver, cgroups_path, spec.resources, pid, cgroup_w, sync_r)
        joined = time.time_ns()
        # While the init finishes its rootfs: the control socket and the record (each a few file
        # operations, a millisecond or more on a disk-backed state root). Should the init fail, the
        # executor's create() removes the state dir with both in it.
        state_dir = Path(args.state_dir)
        sock = listen(state_dir)
        rec = created_record(args, pid, cgroups_path)
        write_record(state_dir, rec)
        stamps = (began, forked, joined, time.time_ns())
        return Prepared(args, driver, rec, sock, out_r, err_r, sync_r, start_w, stamps)
    except Exception as e:
        why = failure(e)
    if pid > 0:  # reap it first: an unreaped init keeps its cgroup busy (EBUSY) as a zombie
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    _fail(ready, driver, cgroups_path, why)
    return None
