"""cgroup v2 driver: a single unified tree at ``/sys/fs/cgroup``.

Controllers must be enabled top-down: every ancestor writes ``+cpu +memory +pids ...`` into its
``cgroup.subtree_control`` before the child's interface files exist. Pod-level cgroups never hold
processes themselves, so the "no internal processes" rule is not in the way.

OCI resources are expressed in v1 units; conversions follow runc/crun:
``cpu.weight = 1 + (shares - 2) * 9999 / 262142`` and ``cpu.max = "<quota|max> <period>"``.
Device access is enforced by an eBPF program attached to each new container cgroup (``devices.py``),
the v2 replacement of v1's ``devices.allow``. OOM kills are counted in ``memory.events``
(``oom_kill``). ``cgroup.kill`` (Linux 5.14+) kills the whole subtree atomically; older kernels fall
back to signalling ``cgroup.procs``.
"""

from __future__ import annotations

import os
import signal

from skiff_runtime.oci.cgroups.base import (
    CgroupStats,
    read,
    read_keyed,
    read_procs,
    rmdir_tree,
    write,
)
from skiff_runtime.oci.cgroups.devices import attach_device_filter
from skiff_runtime.oci.spec import Resources

_WANTED = ("cpu", "cpuset", "memory", "pids", "io")


def shares_to_weight(shares: int) -> int:
    if shares <= 0:
        return 100
    return 1 + ((max(min(shares, 262144), 2) - 2) * 9999) // 262142


class CgroupV2:
    version = 2

    def __init__(self, root: str = "/sys/fs/cgroup", *, device_filter: bool = True) -> None:
        self.root = root
        self.device_filter = device_filter

    def _dir(self, path: str) -> str:
        return f"{self.root}{path}" if path.startswith("/") else f"{self.root}/{path}"

    def files(self, path: str) -> list[str]:
        return [self._dir(path)]

    def create(self, path: str, resources: Resources) -> None:
        new_leaf = not os.path.isdir(self._dir(path))
        current = self.root
        for part in [p for p in path.split("/") if p]:
            try:
                available = read(f"{current}/cgroup.controllers").split()
            except FileNotFoundError:
                available = []
            enable = " ".join(f"+{c}" for c in _WANTED if c in available)
            if enable:
                try:
                    enabled = read(f"{current}/cgroup.subtree_control").split()
                except FileNotFoundError:
                    enabled = []
                if any(c not in enabled for c in _WANTED if c in available):
                    write(f"{current}/cgroup.subtree_control", enable)
            current = f"{current}/{part}"
            os.makedirs(current, exist_ok=True)
        # once: create() may be called again to re-apply limits; privileged containers get no filter
        if self.device_filter and new_leaf and not resources.devices_allow_all:
            attach_device_filter(self._dir(path))
        self._apply(path, resources)

    def _apply(self, path: str, r: Resources) -> None:
        d = self._dir(path)
        if r.cpu_shares is not None:
            write(f"{d}/cpu.weight", str(shares_to_weight(r.cpu_shares)))
        if r.cpu_quota is not None or r.cpu_period is not None:
            quota = str(r.cpu_quota) if r.cpu_quota is not None else "max"
            write(f"{d}/cpu.max", f"{quota} {r.cpu_period or 100000}")
        if r.memory_limit is not None:
            write(f"{d}/memory.max", str(r.memory_limit))
            if os.path.exists(f"{d}/memory.swap.max"):
                write(f"{d}/memory.swap.max", "0")
        if r.pids_limit is not None:
            write(f"{d}/pids.max", str(r.pids_limit))

    def add_process(self, path: str, pid: int) -> None:
        write(f"{self._dir(path)}/cgroup.procs", str(pid))

    def procs(self, path: str) -> list[int]:
        pids: set[int] = set()
        for dirpath, _dirs, _files in os.walk(self._dir(path)):
            pids.update(read_procs(dirpath))
        return sorted(pids)

    def oom_kill_count(self, path: str) -> int:
        return read_keyed(f"{self._dir(path)}/memory.events").get("oom_kill", 0)

    def stats(self, path: str) -> CgroupStats:
        d = self._dir(path)
        usage = int(read(f"{d}/memory.current"))
        inactive = read_keyed(f"{d}/memory.stat").get("inactive_file", 0)
        return CgroupStats(
            cpu_usage_ns=read_keyed(f"{d}/cpu.stat").get("usage_usec", 0) * 1000,
            memory_usage_bytes=usage,
            memory_working_set_bytes=max(usage - inactive, 0),
        )

    def kill_all(self, path: str) -> None:
        d = self._dir(path)
        if os.path.exists(f"{d}/cgroup.kill"):
            write(f"{d}/cgroup.kill", "1")
            return
        for pid in self.procs(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self, path: str) -> None:
        if path.strip("/") == "":
            raise ValueError("refusing to remove the root cgroup")
        rmdir_tree(self._dir(path))
