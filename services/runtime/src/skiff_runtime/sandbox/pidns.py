"""A pod-wide PID namespace (shareProcessNamespace), held by a tiny init process.

Unlike net/ipc/uts, a PID namespace cannot be pinned by a bind mount: it dies with its PID 1. So a pod
that asks for a POD-scoped PID namespace gets what containerd's pause container gives it: a minimal init,
here a few lines of Python that reap orphans (PID 1's job) and exit on SIGTERM. Containers with PID mode
POD join `/proc/<init pid>/ns/pid`.

The init is started as `setsid -f unshare --pid --fork -- python -c ...`, so it is not the runtime's
child (a runtime restart does not touch it) and it learns its host PID from /proc/self, which still
belongs to the host's PID namespace, and writes it to a file. The PID and its start time are recorded;
the start time guards against killing an unrelated process that reused the PID after a reboot.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

INIT = r"""
import os, signal, sys
path = sys.argv[1]
with open(path + ".tmp", "w") as f:
    f.write(os.readlink("/proc/self"))
os.replace(path + ".tmp", path)
def reap(*_):
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
signal.signal(signal.SIGCHLD, reap)
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
os.closerange(0, 3)
while True:
    signal.pause()
"""


class PidNamespaceError(RuntimeError):
    pass


def start_time(pid: int) -> int:
    """Start time of `pid` in clock ticks since boot (field 22 of /proc/<pid>/stat), 0 if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return int(stat.rsplit(")", 1)[1].split()[19])


def start(pidfile: Path, timeout: float = 10.0) -> tuple[int, int]:
    """Start the init; returns (host pid, start time)."""
    pidfile.parent.mkdir(parents=True, exist_ok=True)
    pidfile.unlink(missing_ok=True)
    argv = ["setsid", "-f", "unshare", "--pid", "--fork", "--", sys.executable, "-c", INIT, str(pidfile)]
    errors = pidfile.with_suffix(".err")
    # No pipes: the detached init would hold them open and a reader would wait forever. Errors go to a file.
    with open(errors, "w") as err:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, check=False)
    if proc.returncode != 0:
        raise PidNamespaceError(f"starting the pod PID namespace init failed: {errors.read_text().strip()}")
    deadline = time.monotonic() + timeout
    while not pidfile.exists():
        if time.monotonic() > deadline:
            raise PidNamespaceError(
                f"the pod PID namespace init did not report its pid within {timeout:.0f}s: {errors.read_text().strip()}"
            )
        time.sleep(0.01)
    pid = int(pidfile.read_text())
    return pid, start_time(pid)


def alive(pid: int, started: int) -> bool:
    return pid > 0 and start_time(pid) == started != 0


def stop(pid: int, started: int) -> None:
    """Kill the init, which takes every process of the PID namespace with it. Idempotent."""
    if alive(pid, started):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        for _ in range(200):
            if not alive(pid, started):
                return
            time.sleep(0.01)
