"""The per-container shim: ``python -m skiff_runtime.oci.shim --id ID --bundle B --state-dir D ...``.

Lifecycle (one shim per container, like containerd-shim)::

    executor.create()
      └─ the shim factory (zygote.py) forks a child that setsid()s and calls main() below
         [fallback: Popen(python -m skiff_runtime.oci.shim, start_new_session=True)]
         ── [fallback only] main() forks once more and the first process exits, so the shim is
           re-parented to init/subreaper: the runtime service can restart or exit without the shim
           being its zombie. The factory's children need no such step (see zygote.py).
           shim: validate config.json, create pipes,
                 unshare(CLONE_NEWPID) / setns(pid) for its children, fork ──> container init (init.py)
                 create the cgroup, write the init's pid to cgroup.procs, "C" on the cgroup pipe
                 ──> (the init sets up namespaces and rootfs meanwhile; waits for "C" before its
                 cgroup namespace / first cgroup mount)
                 bind the control socket, write state.json (created): still overlapping the init
                 <── "R" on the sync pipe (rootfs ready, blocked before exec)
                 answer on the ready fd: {"ok": true, "pid": ...}
                 serve the control socket (supervisor.py) until "shutdown"

Errors before "created" are written as ``{"ok": false, "kind": "invalid"|"error", ...}`` on the
ready fd; the shim removes the cgroup it made and exits, and ``create()`` raises.
The ready fd comes from the executor (``--ready-fd``: inherited, or passed to the factory with
SCM_RIGHTS); its EOF without a message means the shim crashed, and ``shim.log`` in the state dir has
its traceback. ``main()`` must stay safe to run in a child forked from the factory: it imports
nothing new, creates its event loop only in the final process, and never returns to the caller's
code (the factory ``_exit``s with its return value).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import CgroupDriver, host_driver
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.init import run_init
from skiff_runtime.oci.spec import Resources, Spec, load_spec
from skiff_runtime.oci.state import Record, start_time, write_record
from skiff_runtime.oci.supervisor import Supervisor, listen


def report(fd: int, msg: dict[str, object]) -> bool:
    """Answer create(); False when nobody listens any more (the caller was cancelled or died)."""
    try:
        os.write(fd, json.dumps(msg).encode())
        return True
    except BrokenPipeError:
        return False
    finally:
        os.close(fd)


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
    then let it pass its cgroup gate ("C"; init.py). Both steps are slow on cgroup v1 (mkdir in every
    hierarchy; the cgroup.procs write waits for an RCU grace period) and used to precede the fork.
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

    def run(self) -> int:
        """Wait for the init's "R", answer create(), then supervise until shutdown. The event loop
        starts only after the answer: its start-up (~1 ms) then overlaps the caller's next request
        rather than the init's last set-up steps, which rarely leave the shim idle for that long."""
        msg = _read_sync(self.sync_r)
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
        sup.run(_ready_callback(sup, self.args.ready_fd), self.sock)
        return 0


def _fail(ready: int, driver: CgroupDriver | None, cgroups_path: str, failure: dict[str, object] | str) -> None:
    """Remove what create made (the executor removes the state dir) and answer create() with why."""
    if isinstance(failure, str):
        failure = {"ok": False, "kind": "error", "error": failure}
    if driver is not None and cgroups_path:
        try:
            driver.kill_all(cgroups_path)
            driver.remove(cgroups_path)
        except OSError:
            traceback.print_exc()
    report(ready, failure)


def _ready_callback(sup: Supervisor, ready: int) -> Callable[[], None]:
    def on_ready() -> None:
        if not report(ready, {"ok": True, "pid": sup.rec.pid}):
            sup.abandon()  # create() was given up on: leave nothing behind

    return on_ready


def create_container(args: argparse.Namespace) -> Prepared | None:
    ready = args.ready_fd
    driver: CgroupDriver | None = None
    cgroups_path = ""
    pid = 0
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
        for fd in (out_w, err_w, sync_w, start_r, cgroup_r):
            os.close(fd)
        _join_cgroup(driver, cgroups_path, spec.resources, pid, cgroup_w, sync_r)
        # While the init finishes its rootfs: the control socket and the record (each a few file
        # operations, a millisecond or more on a disk-backed state root). Should the init fail, the
        # executor's create() removes the state dir with both in it.
        state_dir = Path(args.state_dir)
        sock = listen(state_dir)
        rec = Record(
            id=args.id,
            bundle=str(Path(args.bundle).resolve()),
            status="created",
            pid=pid,
            pid_start=start_time(pid) or 0,
            shim_pid=os.getpid(),
            shim_start=start_time(os.getpid()) or 0,
            cgroups_path=cgroups_path,
            log_path=args.log_path,
            created_at=time.time(),
        )
        write_record(state_dir, rec)
        return Prepared(args, driver, rec, sock, out_r, err_r, sync_r, start_w)
    except InvalidBundle as e:
        failure: dict[str, object] = {"ok": False, "kind": "invalid", "field": e.field, "reason": e.reason}
    except Exception as e:
        traceback.print_exc()
        failure = {"ok": False, "kind": "error", "error": str(e)}
    if pid > 0:  # reap it first: an unreaped init keeps its cgroup busy (EBUSY) as a zombie
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
    _fail(ready, driver, cgroups_path, failure)
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skiff-shim")
    parser.add_argument("--id", required=True)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--log-path", default=None)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--runtime", default=None, help="runc/crun binary: delegate isolation to it")
    parser.add_argument("--runtime-root", default=None, help="the runtime's --root state directory")
    return parser


# Built at import, i.e. once in the shim factory: constructing an ArgumentParser looks up gettext
# catalogues on disk, ~1.5 ms that every forked shim would pay again.
PARSER = _parser()


def configure_logging() -> None:
    """stderr is <state_dir>/shim.log; plain logging keeps the shim free of service-only dependencies.
    The factory calls it at start-up (its stderr, fd 2, becomes each child's shim.log), which leaves
    the call in ``main`` a no-op there."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")


def main(argv: list[str] | None = None, *, detach: bool = True) -> int:
    """detach: fork once more and let the first process exit (spawned by the executor: not its child
    for long). The factory passes False: its children are reaped by the kernel (SIGCHLD ignored
    there), so another fork would only add a process and copy-on-write faults to every create."""
    args = PARSER.parse_args(argv)
    configure_logging()
    if detach and os.fork() != 0:
        os._exit(0)  # the executor reaps this one; the grandchild is the shim
    os.chdir("/")
    if not args.runtime:
        prepared = create_container(args)
        return 1 if prepared is None else prepared.run()
    from skiff_runtime.oci.runc_backend import create_with_runtime

    created = create_with_runtime(args)
    if created is None:
        return 1
    sup, ready = created
    sup.run(_ready_callback(sup, ready))
    return 0


if __name__ == "__main__":
    sys.exit(main())
