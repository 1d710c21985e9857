"""Start, find and stop the cluster's long-running processes.

Each process runs in its own session (so a terminal's Ctrl-C does not reach it), writes to its own log
file, and is remembered by a pid file. A pid file alone is not trusted: before signalling, we check that
the pid still belongs to the process we started (pids are reused; the kernel's start time of the
process tells them apart), so `skiff down` never kills a stranger. The command line is recorded beside
the pid file (NAME.argv) so the supervisor (supervise.py) can start a crashed process again; `stop`
removes that record first, so a deliberate stop is never undone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path


def start(name: str, argv: Sequence[str], *, log_dir: Path, pid_dir: Path, env: dict[str, str] | None = None) -> int:
    log_dir.mkdir(parents=True, exist_ok=True)
    pid_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{name}.log", "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    (pid_dir / f"{name}.pid").write_text(f"{proc.pid} {start_time(proc.pid)}\n")
    (pid_dir / f"{name}.argv").write_text(json.dumps({"argv": list(argv), "env": env or {}}))
    return proc.pid


def supervised(pid_dir: Path) -> list[str]:
    """Names of the processes started here and not deliberately stopped since."""
    return sorted(p.stem for p in pid_dir.glob("*.argv"))


def recorded_argv(name: str, pid_dir: Path) -> list[str] | None:
    try:
        record = json.loads((pid_dir / f"{name}.argv").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return [str(a) for a in record["argv"]]


def start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return fields[19]


def running_pid(name: str, pid_dir: Path) -> int | None:
    """The pid of `name` if the process we started is still alive."""
    try:
        pid_text, started = (pid_dir / f"{name}.pid").read_text().split()
        pid = int(pid_text)
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    if stat[0] == "Z" or stat[19] != started:
        return None  # a zombie is as good as gone; another start time is another process
    return pid


def stop(name: str, pid_dir: Path, *, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`. Returns whether a process was running."""
    (pid_dir / f"{name}.argv").unlink(missing_ok=True)  # first: the supervisor must not restart it
    pid = running_pid(name, pid_dir)
    if pid is None:
        (pid_dir / f"{name}.pid").unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and running_pid(name, pid_dir) is not None:
        time.sleep(0.05)
    if running_pid(name, pid_dir) is not None:
        os.kill(pid, signal.SIGKILL)
        while running_pid(name, pid_dir) is not None:
            time.sleep(0.05)
    (pid_dir / f"{name}.pid").unlink(missing_ok=True)
    return True
