"""The shim's on-disk record: ``<state_root>/<id>/state.json``.

The shim is the only writer; it rewrites the whole file atomically (write a temp file, rename) on
every transition, so a reader never sees a torn record.

No fsync: every transition (created, running, stopped) is on the critical path of create/start/wait,
and an fsync costs milliseconds on a disk-backed state root (nothing on the default tmpfs ``/run``).
What it would protect against is a machine crash, but the processes a record describes die with the
machine anyway; the worst case, an empty record for a container that was being created when the
power went, is read as "no such container" (``read_record`` returns None) instead of an error.

The runtime service only reads it. Because pids are recycled, every pid is stored with its start
time (field 22 of ``/proc/<pid>/stat``) and a process only counts as alive when both still match
(``is_alive``; ``exited`` waits for one to go, on a pidfd).
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "state.json"
SOCKET = "shim.sock"
SHIM_LOG = "shim.log"


@dataclass
class Record:
    id: str
    bundle: str
    status: str  # created | running | stopped
    pid: int
    pid_start: int
    shim_pid: int
    shim_start: int
    cgroups_path: str
    log_path: str | None
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    exit_code: int | None = None
    oom_killed: bool = False


def write_record(state_dir: Path, rec: Record) -> None:
    tmp = state_dir / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(asdict(rec)).encode())
    finally:
        os.close(fd)
    os.rename(tmp, state_dir / STATE_FILE)


def read_record(state_dir: Path) -> Record | None:
    try:
        return Record(**json.loads((state_dir / STATE_FILE).read_text()))
    except (FileNotFoundError, ValueError, TypeError):  # TypeError: fields of another layout
        return None


def start_time(pid: int) -> int | None:
    """Start time in clock ticks since boot, or None if the pid does not exist (or is a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] == "Z":
        return None
    return int(fields[19])


def is_alive(pid: int, start: int) -> bool:
    return pid > 0 and start_time(pid) == start


async def exited(pid: int, start: int, limit: float) -> bool:
    """Wait until the process (pid, start time) is gone, on a pidfd (no polling interval: delete()
    used to sleep in 20 ms steps while the shim exited). False if it is still there after limit."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        if not is_alive(pid, start):  # checked after opening: the pidfd is for this very process
            return True
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not gone.done():
                gone.set_result(None)

        loop.add_reader(pidfd, readable)
        try:
            async with asyncio.timeout(limit):
                await gone
            return True
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(pidfd)
    finally:
        os.close(pidfd)
