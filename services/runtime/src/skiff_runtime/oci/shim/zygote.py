"""The shim factory ("zygote"): ``python -m skiff_runtime.oci.shim.zygote --state-root R --ready-fd N``.

Why: a container's create used to start a fresh interpreter for its shim (``python -m
skiff_runtime.oci.shim``): ~200 ms of interpreter start-up and imports, most of our create latency and
four times ``runc run``. A zygote (Android's name for the same trick) pays that once: this long-lived
process has already imported everything the shim and the container init need (this package:
``main``, ``native``, ``runc``, ``supervisor``, ``container_init``, ``rootfs``, ``execsync``; ``caps``,
the cgroup drivers, asyncio) and
``fork()``s a new shim per request, which costs about a millisecond.

What is shared, and why fork is safe here: only the imported, immutable code and module state
(``gc.freeze()`` keeps it out of the collector so pages stay shared copy-on-write). The factory is
deliberately single-threaded and never runs an event loop, holds no locks and no open files besides
its listening socket: a forked child inherits nothing half-done. Each child then

1. ``setsid()`` (out of the factory's session and process group, as ``start_new_session`` did);
2. closes the factory's sockets, puts ``/dev/null`` on stdin and the container's ``shim.log`` (sent by
   the executor) on stdout/stderr, and closes every other inherited fd except the ready fd;
3. renames itself (``skiff-shim --id ...`` in ``/proc/<pid>/cmdline``, as the old command line read);
4. restores the default SIGCHLD disposition (the shim waits for its init), runs exactly
   ``main.main(detach=False)`` and ``_exit``s; the shim's own ``asyncio.run`` creates a fresh loop.

The shims stay the factory's children, yet never depend on it: the factory ignores SIGCHLD, so the
kernel reaps a shim the moment it exits (no zombie, nothing for the factory to do), and when the
factory dies its shims are re-parented to init like any orphan. It used to be a double fork (the middle
process exiting at once); that cost every create a fork and a round of copy-on-write faults.

Protocol (``zygote.sock`` in the executor's state root, ``SOCK_SEQPACKET``, one request per
connection): the executor sends ``{"argv": [...shim flags...], "code": id}`` with two fds as
``SCM_RIGHTS``: the write end of the create() ready pipe and ``shim.log``. The factory answers
``{"ok": true, "pid": n}`` after forking, or ``{"ok": false, "error": ...}`` without forking (then the
executor may safely fall back to spawning the shim itself). ``code`` identifies the installed code
(``wire.code_id``): a factory started from older code answers ``stale`` and exits, so an
upgrade never forks shims from outdated modules.

After answering, the factory warms the kernel's cgroup attach lock (``cgroups.base.warm_attach_lock``:
a no-op ``cgroup.procs`` write of its own pid). The shim's first ``cgroup.procs`` write would otherwise
wait for an RCU grace period (5-15 ms here, most of the cgroup join); begun now, that grace period
passes while the shim starts, parses the spec and forks the init. The next request waits for it at
most one grace period, and a no-op move changes nothing for the factory.

Access control: only uid 0 may talk to it (``SO_PEERCRED`` checked on both sides), the socket is
mode 0600 inside the 0700 state root.

When it dies: nothing happens to existing containers — its shims are re-parented to init like any
orphan (they hold nothing of the factory's, see above) and talk to the executor directly. The next
create finds the socket dead (``ECONNREFUSED``) and starts a new factory (``executor/zygote_client.py``).
The factory also exits on its own when its socket is removed or replaced (state root deleted,
another factory took over; checked about once a second) and after ``IDLE_EXIT`` seconds without a
request, so a test suite or benchmark that forgets it (its state root in a temp dir) leaks nothing
for long; restarting costs one interpreter start on the next create. Before exiting it unlinks its
socket, then serves the connections already queued: a request that was sent is always answered, so
a client never has to guess whether a shim was forked.
"""

from __future__ import annotations

import argparse
import asyncio.selector_events  # preloaded (with the shim modules below): a forked child imports nothing
import asyncio.unix_events  # noqa: F401
import contextlib
import ctypes
import gc
import json
import os
import signal
import socket
import struct
import sys
import time
import traceback
from typing import Any, NoReturn

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import host_driver
from skiff_runtime.oci.cgroups.base import own_procs_file, warm_attach_lock
from skiff_runtime.oci.shim import execsync, native, runc, supervisor  # noqa: F401 - preloaded
from skiff_runtime.oci.shim import main as shim_main
from skiff_runtime.oci.wire import FACTORY_SOCKET as SOCKET
from skiff_runtime.oci.wire import code_id, peer_uid

MAX_FDS = 4
IDLE_EXIT = 600.0  # seconds without a request; the next create simply starts a new factory
_cmdline_buffers: list[ctypes.Array[ctypes.c_char]] = []  # referenced forever: the kernel points at it
PR_SET_NAME, PR_SET_MM, PR_SET_MM_ARG_START, PR_SET_MM_ARG_END = 15, 35, 8, 9
CAP_SYS_RESOURCE = 24
_set_mm = True  # the factory's answer to _has_cap_sys_resource(), inherited by its children


def _has_cap_sys_resource() -> bool:
    """PR_SET_MM needs CAP_SYS_RESOURCE; checked once in the factory, not tried in every child."""
    try:
        with open("/proc/self/status") as f:
            eff = next(line.split()[1] for line in f if line.startswith("CapEff:"))
        return bool(int(eff, 16) >> CAP_SYS_RESOURCE & 1)
    except (OSError, StopIteration, ValueError):
        return True  # unknown: let the child try


def _set_cmdline(argv: list[str], set_mm: bool = True) -> None:
    """Name the process ``skiff-shim`` (comm) and, where we hold CAP_SYS_RESOURCE (``set_mm``), point
    /proc/self/cmdline at the shim's flags (PR_SET_MM). Purely cosmetic (ps): failures are ignored;
    without it the command line stays the factory's."""
    name = ctypes.create_string_buffer(b"skiff-shim")  # comm: no privilege needed, shown by ps/top
    with contextlib.suppress(OSError):
        sc.prctl(PR_SET_NAME, ctypes.addressof(name))
    if not set_mm:
        return
    raw = b"\0".join(a.encode() for a in argv) + b"\0"
    buf = ctypes.create_string_buffer(raw, len(raw))
    _cmdline_buffers.append(buf)
    start = ctypes.addressof(buf)
    end = start + len(raw)
    # The kernel checks arg_start <= arg_end after each call: move the end first when growing upward.
    for order in ((PR_SET_MM_ARG_END, end, PR_SET_MM_ARG_START, start),
                  (PR_SET_MM_ARG_START, start, PR_SET_MM_ARG_END, end)):  # fmt: skip
        try:
            sc.prctl(PR_SET_MM, order[0], order[1])
            sc.prctl(PR_SET_MM, order[2], order[3])
            break
        except OSError:
            continue


def _close_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _become_shim(argv: list[str], ready_fd: int, log_fd: int) -> NoReturn:
    """The forked child: detach, then run the unchanged shim code path. Never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # the factory's SIG_IGN would auto-reap the init
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        _close_fds({ready_fd})  # the factory's sockets, log fd, /dev/null: nothing leaks on
        full = [*argv, "--ready-fd", str(ready_fd)]
        _set_cmdline(["skiff-shim", *full], _set_mm)
        sys.argv = ["skiff-shim", *full]
        code = shim_main.main(full, detach=False)
    except SystemExit as e:  # argparse errors
        code = e.code if isinstance(e.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _recv(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    fds: list[int] = []
    msg, ancdata, flags, _ = conn.recvmsg(1 << 16, socket.CMSG_SPACE(MAX_FDS * 4))
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds += list(struct.unpack(f"{len(data) // 4}i", data[: len(data) - len(data) % 4]))
    if flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
        raise ValueError("request truncated")
    req = json.loads(msg)
    if not isinstance(req, dict):
        raise ValueError("request: must be a JSON object")
    return req, fds


def handle(conn: socket.socket, code_id: str, ino: int, warm: str | None = None) -> bool:
    """Serve one request; False when this factory must exit (it is stale)."""
    if peer_uid(conn) != 0:
        conn.send(json.dumps({"ok": False, "error": "only uid 0 may use the shim factory"}).encode())
        return True
    conn.settimeout(5.0)
    fds: list[int] = []
    try:
        req, fds = _recv(conn)
        if req.get("code") != code_id:
            if _still_ours(ino):
                os.unlink(SOCKET)  # before answering: the executor's next connect must not reach us
            conn.send(json.dumps({"ok": False, "stale": True, "error": "factory runs other code"}).encode())
            return False
        argv = req.get("argv")
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("argv: must be a list of strings")
        if len(fds) != 2:
            raise ValueError(f"fds: expected 2 (ready pipe, shim log), got {len(fds)}")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _become_shim(argv, fds[0], fds[1])
        reply: dict[str, Any] = {"ok": True, "pid": pid}
    except (ValueError, OSError) as e:
        reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    finally:
        for fd in fds:
            os.close(fd)
    with contextlib.suppress(OSError):
        conn.send(json.dumps(reply).encode())
    if warm and reply["ok"]:
        warm_attach_lock(warm)  # after answering: overlaps the shim's start-up, delays no reply
    return True


def _still_ours(ino: int) -> bool:
    try:
        return os.stat(SOCKET).st_ino == ino
    except OSError:
        return False


def serve(state_root: str, ready_fd: int, code_id: str, idle_exit: float = IDLE_EXIT) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps our children (the shims) itself
    os.chdir(state_root)  # bind relative: sun_path is 108 bytes, state roots can be longer
    with contextlib.suppress(FileNotFoundError):
        os.unlink(SOCKET)  # stale: the executor only starts us after failing to connect
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    old = os.umask(0o177)  # created 0600: never a moment when others could connect
    try:
        srv.bind(SOCKET)
    finally:
        os.umask(old)
    srv.listen(128)
    ino = os.stat(SOCKET).st_ino
    global _set_mm
    _set_mm = _has_cap_sys_resource()
    shim_main.configure_logging()  # before forking: each child's fd 2 is its shim.log
    warm = own_procs_file()
    host_driver()  # probed once here: every forked shim inherits the result
    gc.collect()
    gc.freeze()  # imported objects: never scanned, so their pages stay shared with every child
    os.write(ready_fd, b"ok")
    os.close(ready_fd)
    srv.settimeout(1.0)
    last = time.monotonic()
    while True:
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            if not _still_ours(ino) or time.monotonic() - last > idle_exit:
                break
            continue
        last = time.monotonic()
        if not _serve_one(conn, code_id, ino, warm):
            break
    # Leaving: first make sure no new client can reach us, then serve whoever already queued up
    # (their requests are sent: dropping them would leave those creates unsure whether we forked).
    if _still_ours(ino):
        os.unlink(SOCKET)
    srv.setblocking(False)
    while True:
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            break
        _serve_one(conn, code_id, ino, warm)


def _serve_one(conn: socket.socket, code_id: str, ino: int, warm: str | None) -> bool:
    with conn:
        try:
            return handle(conn, code_id, ino, warm)
        except Exception:
            traceback.print_exc()
            return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skiff-zygote")
    parser.add_argument("--state-root", required=True)
    parser.add_argument("--ready-fd", type=int, required=True)
    parser.add_argument("--idle-exit", type=float, default=IDLE_EXIT, help="exit after this many idle seconds")
    args = parser.parse_args(argv)
    if os.fork() != 0:
        os._exit(0)  # the executor reaps this one; the grandchild (re-parented to init) serves
    serve(args.state_root, args.ready_fd, code_id(), args.idle_exit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
