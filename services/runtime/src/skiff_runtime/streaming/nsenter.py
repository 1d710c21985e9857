"""``python -m skiff_runtime.streaming.nsenter --control-fd N --parent PID``: an interactive exec's process.

Why a fresh process: ``setns`` into a mount namespace is refused for multi-threaded processes, and the
runtime service is one (grpc, aiohttp, to_thread). The shim's exec (``oci/shim/execsync.py``) only
collects output for ``ExecSync``; a stream needs live stdio, so streaming exec pays one interpreter
start (about as long as ``nsenter`` + a shell would) and reuses exactly what ``ExecSync``'s fallback
helper (``oci/shim/nsexec.py``) does: join the container's cgroup, ``enter_namespaces``, fork (only
children enter a pid namespace) and ``become`` the container process (credentials, capabilities,
no_new_privs, PDEATHSIG, cwd). Not util-linux ``nsenter``: it would not apply the container's capabilities and user.

Protocol on the control socket (a ``socketpair`` end): the runtime writes the request JSON and shuts
its side down; for a tty we answer with the pty master (``SCM_RIGHTS``). The pty is opened *after*
joining the mount namespace, so it lives in the container's own devpts (``/dev/ptmx -> pts/ptmx``): the
command sees a real ``/dev/pts/N`` and the host's devpts is never exposed. The runtime keeps the master
(it relays bytes and applies resizes with ``TIOCSWINSZ``); without a tty the command inherits our
stdin/stdout/stderr pipes directly, with no relay in between.

We exit with the command's status (128+signal for a signal). Failures before exec print to stderr and
exit 126 (setup) or 127 (command not found), as ``nsexec`` does. Killing us kills the command
(``PR_SET_PDEATHSIG``), which is how the runtime ends an exec whose client went away.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from typing import Any, NoReturn

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.shim.nsexec import become, enter_namespaces
from skiff_runtime.oci.wire import start_time


def _read_request(control: socket.socket) -> dict[str, Any]:
    chunks = []
    while chunk := control.recv(65536):
        chunks.append(chunk)
    request: dict[str, Any] = json.loads(b"".join(chunks))
    return request


def _become_with_terminal(req: dict[str, Any], parent_alive: int, tty: int) -> NoReturn:
    """``become`` with ``tty`` as stdio and controlling terminal (``become`` takes it right after its
    ``setsid``: only a session leader can)."""
    for fd in (0, 1, 2):
        os.dup2(tty, fd)
    os.close(tty)
    become(req, parent_alive, controlling_tty=0)


def _prepare(req: dict[str, Any], control: socket.socket) -> int | None:
    """Join the container; for a tty, open the pty there and hand its master over. The slave, or None."""
    pid = int(req["pid"])
    if start_time(pid) != req["pid_start"]:
        raise ProcessLookupError(f"container init {pid} is gone")
    detect_driver().add_process(req["cgroups_path"], 0)
    enter_namespaces(pid)
    if not req["tty"]:
        return None
    master, slave = os.openpty()  # /dev/ptmx of the container's mount namespace
    uid = int(req["spec"]["process"]["uid"])
    os.fchown(slave, uid, -1)  # the command may run as a non-root user: its terminal must be its own
    socket.send_fds(control, [b"m"], [master])
    os.close(master)
    return slave


def main() -> int:
    # A runtime that dies takes its sessions along: we die with it, and the command with us. (The
    # runtime spawns us from its event loop thread, which lives as long as the runtime does.)
    sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(sys.argv[sys.argv.index("--parent") + 1]):
        return 137  # orphaned before PDEATHSIG was armed
    control = socket.socket(fileno=int(sys.argv[sys.argv.index("--control-fd") + 1]))
    try:
        req = _read_request(control)
        slave = _prepare(req, control)
    except Exception as e:  # whatever went wrong before exec, the client is told why
        print(f"skiff exec: {e}", file=sys.stderr, flush=True)
        return 126
    finally:
        control.close()
    parent_alive, keep = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(keep)
        if slave is None:
            become(req, parent_alive)
        _become_with_terminal(req, parent_alive, slave)
    os.close(parent_alive)
    if slave is not None:
        os.close(slave)  # the master reads EIO once the command (the last slave holder) is gone
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
