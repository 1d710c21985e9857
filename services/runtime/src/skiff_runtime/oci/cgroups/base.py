"""The cgroup driver interface shared by the v1 and v2 implementations.

A driver is stateless: every call takes the container's ``linux.cgroupsPath`` (``/skiff/pod<uid>/<id>``),
which on v1 is relative to *each* controller hierarchy and on v2 to the unified root. Both the shim (at
create and exit) and the executor in the runtime service (stats, delete) construct drivers on demand,
so nothing about a cgroup needs to survive in memory across a runtime restart.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass
from typing import Protocol

from skiff_runtime.oci.spec import Resources


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int
    memory_usage_bytes: int
    memory_working_set_bytes: int


class CgroupDriver(Protocol):
    version: int

    def create(self, path: str, resources: Resources) -> None:
        """Create ``path`` (and missing parents) and apply the limits. Idempotent."""

    def add_process(self, path: str, pid: int) -> None: ...

    def procs(self, path: str) -> list[int]: ...

    def oom_kill_count(self, path: str) -> int: ...

    def stats(self, path: str) -> CgroupStats: ...

    def kill_all(self, path: str) -> None:
        """SIGKILL every process still in the cgroup (e.g. daemons left behind in a hostPID container)."""

    def remove(self, path: str) -> None:
        """rmdir ``path`` and any empty child cgroups below it; missing is fine."""

    def files(self, path: str) -> list[str]:
        """Directories backing ``path`` (one per v1 hierarchy), for diagnostics and tests."""


def write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def read_keyed(path: str) -> dict[str, int]:
    """Parse ``key value`` files (memory.stat, memory.events, cpu.stat, memory.oom_control)."""
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                try:
                    out[key] = int(value)
                except ValueError:
                    continue
    except FileNotFoundError:
        pass
    return out


def read_procs(directory: str) -> list[int]:
    try:
        return [int(x) for x in read(f"{directory}/cgroup.procs").split()]
    except FileNotFoundError:
        return []


def rmdir_tree(directory: str) -> None:
    """Remove a cgroup directory bottom-up. A cgroup whose last process just died can report EBUSY for a
    moment (the kernel frees it asynchronously), so retry briefly before giving up."""
    if not os.path.isdir(directory):
        return
    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            rmdir_tree(entry.path)
    deadline = time.monotonic() + 1.0
    delay = 0.001  # doubling up to 20 ms: the usual wait is a few ms, and it is on delete's path
    while True:
        try:
            os.rmdir(directory)
            return
        except FileNotFoundError:
            return
        except OSError as e:
            if e.errno != errno.EBUSY or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.02)


def own_procs_file(root: str = "/sys/fs/cgroup") -> str | None:
    """The ``cgroup.procs`` of a cgroup this process is in (any hierarchy; v2 or v1), or None."""
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        hid, controllers, path = line.split(":", 2)
        if hid == "0":
            bases = [root, f"{root}/unified"]
        else:
            bases = [f"{root}/{name.removeprefix('name=')}" for name in controllers.split(",")]
        for base in bases:
            candidate = f"{base}{path.rstrip('/')}/cgroup.procs"
            if os.path.isfile(candidate):
                return candidate
    return None


def warm_attach_lock(procs_file: str) -> None:
    """Move this process into the cgroup it is already in: a no-op for the process, but the write
    takes the kernel's global ``cgroup_threadgroup_rwsem`` for writing, as the shim's own
    ``cgroup.procs`` writes will. Taking it from idle waits for an RCU grace period (5-15 ms on a
    busy 2-core machine: most of a create's cgroup join); for about one more grace period after a
    writer leaves, the next writer gets it at once. Started early on another process, the grace
    period passes while the shim does its own set-up. Errors are ignored: only a speed-up."""
    try:
        write(procs_file, str(os.getpid()))
    except OSError:
        pass
