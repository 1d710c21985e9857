"""``python -m skiff_runtime.oci.shim.nsexec``: ``exec_sync``'s fallback when the shim is unreachable.

Normally the shim runs exec requests itself (``execsync.py``, no interpreter start-up); both paths,
and the streaming server's exec helper (``skiff_runtime.streaming.nsenter``), share
``enter_namespaces`` and ``become`` from here. The request is ``wire.exec_request``.

Reads one JSON request from stdin (then stdin becomes an empty pipe, ``oci/stdio.py``), and:

1. joins the container's cgroup (so the command is limited and accounted like the container);
2. opens every ``/proc/<pid>/ns/*`` *before* switching any (after ``setns`` into the mount namespace,
   ``/proc`` is the container's), after checking the pid is still the container init (start time);
3. ``setns`` into cgroup, ipc, uts, net, pid, mnt and finally user (namespaces equal to ours are
   skipped; the container init joins its user namespace last too, see ``userns.py``);
4. forks, because only children enter a pid namespace; the child drops privileges as the container's
   process spec says, sets ``PR_SET_PDEATHSIG(SIGKILL)`` (so killing this helper on timeout kills the
   command too), ``chdir``s and execs. The parent relays its exit status (128+signal for signals).

Errors before exec are printed to stderr and exit with 126 (setup) or 127 (command not found).
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import sys
import termios
from typing import Any, NoReturn

from skiff_runtime.oci import seccomp
from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.caps import drop_privileges
from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.jsonfields import env_dict
from skiff_runtime.oci.stdio import empty_stdin
from skiff_runtime.oci.wire import start_time

# user last: once in it we hold no capability over the host-owned pid and mount namespaces
_ORDER = ("cgroup", "ipc", "uts", "network", "pid", "mount", "user")


def enter_namespaces(pid: int) -> None:
    """Join every namespace of ``pid`` that differs from ours; mount last (it changes /proc)."""
    fds: list[tuple[int, int]] = []
    for ns_type in _ORDER:
        flag, name = sc.NAMESPACES[ns_type]
        theirs = os.stat(f"/proc/{pid}/ns/{name}")
        ours = os.stat(f"/proc/self/ns/{name}")
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            fds.append((os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag))
    for fd, flag in fds:
        sc.setns(fd, flag)
        os.close(fd)


def become(req: dict[str, Any], parent_alive: int | None, *, controlling_tty: int | None = None) -> NoReturn:
    """In the forked child: drop to the container process's credentials, exec ``req["argv"]``.
    ``parent_alive`` is a pipe whose EOF means our parent died before PDEATHSIG was armed.
    ``controlling_tty``: a terminal fd to make the controlling terminal of the new session (an
    interactive exec's pty slave); only a session leader can take one, so right after ``setsid``."""
    proc = req["spec"]["process"]
    try:
        if proc["no_new_privileges"]:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        seccomp.apply(req["spec"].get("seccomp"))  # the container's filter applies to exec'd processes too
        drop_privileges(
            uid=proc["uid"],
            gid=proc["gid"],
            additional_gids=proc["additional_gids"],
            bounding=proc["bounding"],
            effective=proc["effective"],
            permitted=proc["permitted"],
            inheritable=proc["inheritable"],
            ambient=proc["ambient"],
        )
        sc.prctl(sc.PR_SET_PDEATHSIG, signal.SIGKILL)
        # The helper may have died before PDEATHSIG was armed (getppid() is 0 across the pid namespace
        # boundary, so check the pipe instead): EOF means it is gone, and so must we be.
        if parent_alive is not None and select.select([parent_alive], [], [], 0)[0]:
            os._exit(137)
        os.umask(proc["umask"])
        os.setsid()
        if controlling_tty is not None:
            fcntl.ioctl(controlling_tty, termios.TIOCSCTTY, 0)
        os.chdir(proc["cwd"])
        sc.reset_signals()
    except OSError as e:
        print(f"skiff nsexec: {e}", file=sys.stderr, flush=True)
        os._exit(126)
    env = env_dict(req["env"])
    argv = req["argv"]
    try:
        os.execvpe(argv[0], argv, env)
    except OSError as e:
        print(f"skiff nsexec: exec {argv[0]!r}: {e.strerror}", file=sys.stderr, flush=True)
        os._exit(127)


def main() -> int:
    req = json.loads(sys.stdin.buffer.read())
    stdin = empty_stdin()  # not the host's /dev/null (oci/stdio.py)
    os.dup2(stdin, 0)
    os.close(stdin)
    pid = req["pid"]
    try:
        if start_time(pid) != req["pid_start"]:
            raise ProcessLookupError(f"container init {pid} is gone")
        detect_driver().add_process(req["cgroups_path"], 0)
        enter_namespaces(pid)
    except OSError as e:
        print(f"skiff nsexec: {e}", file=sys.stderr, flush=True)
        return 126
    parent_alive, keep = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(keep)
        become(req, parent_alive)
    os.close(parent_alive)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    _, status = os.waitpid(child, 0)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main())
