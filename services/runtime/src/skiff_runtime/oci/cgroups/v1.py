"""cgroup v1 driver: one directory per controller hierarchy (``/sys/fs/cgroup/<controller>/<path>``).

Details that bite on v1:

- ``cpuset.cpus``/``cpuset.mems`` start empty in a new cgroup (unless ``clone_children``), and a task
  cannot join a cpuset with no CPUs (ENOSPC), so each level on the path that is still empty copies
  them from its parent — checked even when the level already existed, since concurrent creates
  race to make shared parents.
- ``cpu.cfs_period_us`` is written before ``cpu.cfs_quota_us``: the kernel validates the pair.
- OOM: ``memory.oom_control`` has an ``oom_kill`` counter (kernel >= 4.13) that counts kills in this
  cgroup; the shim reads it once the init has died.
- The devices controller gets runc's default allow-list so a container with CAP_MKNOD still cannot
  open e.g. the host's block devices.
"""

from __future__ import annotations

import contextlib
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
from skiff_runtime.oci.cgroups.devices import DEFAULT_RULES
from skiff_runtime.oci.spec import Resources


class CgroupV1:
    version = 1

    def __init__(self, root: str = "/sys/fs/cgroup") -> None:
        self.root = root
        # One entry per hierarchy; co-mounted "cpu,cpuacct" appears once even if symlinked as cpu/cpuacct.
        seen: set[str] = set()
        self.hierarchies: list[str] = []
        for name in sorted(os.listdir(root)):
            full = os.path.join(root, name)
            real = os.path.realpath(full)
            # Hybrid hosts also mount an (often controller-less) cgroup2 tree at "unified"; runc joins it
            # too, so we track it like a hierarchy: create/join/remove, no limits written there.
            if real in seen or not os.path.isfile(f"{real}/cgroup.procs"):
                continue
            seen.add(real)
            self.hierarchies.append(real)

    def _dir(self, controller: str, path: str) -> str:
        for h in self.hierarchies:
            if controller in os.path.basename(h).split(","):
                return f"{h}{path}"
        raise FileNotFoundError(f"cgroup v1 controller {controller!r} is not mounted under {self.root}")

    def files(self, path: str) -> list[str]:
        return [f"{h}{path}" for h in self.hierarchies]

    def create(self, path: str, resources: Resources) -> None:
        for h in self.hierarchies:
            current = h
            for part in [p for p in path.split("/") if p]:
                parent, current = current, f"{current}/{part}"
                # Concurrent creates share parents: whoever made a level, fill in an empty cpuset
                # (a sibling that only saw the directory exist would otherwise join an empty one).
                with contextlib.suppress(FileExistsError):
                    os.mkdir(current)
                if os.path.basename(h).split(",").count("cpuset"):
                    for f in ("cpuset.cpus", "cpuset.mems"):
                        if not read(f"{current}/{f}").strip():
                            write(f"{current}/{f}", read(f"{parent}/{f}"))
        self._apply(path, resources)

    def _apply(self, path: str, r: Resources) -> None:
        cpu = self._dir("cpu", path)
        if r.cpu_shares is not None:
            write(f"{cpu}/cpu.shares", str(max(r.cpu_shares, 2)))
        if r.cpu_period is not None:
            write(f"{cpu}/cpu.cfs_period_us", str(r.cpu_period))
        if r.cpu_quota is not None:
            write(f"{cpu}/cpu.cfs_quota_us", str(r.cpu_quota))
        mem = self._dir("memory", path)
        if r.memory_limit is not None:
            write(f"{mem}/memory.limit_in_bytes", str(r.memory_limit))
            if os.path.exists(f"{mem}/memory.memsw.limit_in_bytes"):
                # memory+swap = memory: the container may not use swap (Kubernetes' default).
                write(f"{mem}/memory.memsw.limit_in_bytes", str(r.memory_limit))
        if r.pids_limit is not None:
            write(f"{self._dir('pids', path)}/pids.max", str(r.pids_limit))
        try:
            devices = self._dir("devices", path)
        except FileNotFoundError:
            return
        if r.devices_allow_all:  # privileged: every device, as the parent allows
            write(f"{devices}/devices.allow", "a")
            return
        write(f"{devices}/devices.deny", "a")
        for rule in DEFAULT_RULES:
            write(f"{devices}/devices.allow", rule)

    def add_process(self, path: str, pid: int) -> None:
        for d in self.files(path):
            write(f"{d}/cgroup.procs", str(pid))

    def procs(self, path: str) -> list[int]:
        pids: set[int] = set()
        for d in self.files(path):
            pids.update(read_procs(d))
        return sorted(pids)

    def oom_kill_count(self, path: str) -> int:
        return read_keyed(f"{self._dir('memory', path)}/memory.oom_control").get("oom_kill", 0)

    def stats(self, path: str) -> CgroupStats:
        usage = int(read(f"{self._dir('memory', path)}/memory.usage_in_bytes"))
        inactive = read_keyed(f"{self._dir('memory', path)}/memory.stat").get("total_inactive_file", 0)
        return CgroupStats(
            cpu_usage_ns=int(read(f"{self._dir('cpuacct', path)}/cpuacct.usage")),
            memory_usage_bytes=usage,
            memory_working_set_bytes=max(usage - inactive, 0),
        )

    def kill_all(self, path: str) -> None:
        for pid in self.procs(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def remove(self, path: str) -> None:
        if path.strip("/") == "":
            raise ValueError("refusing to remove the root cgroup")
        for d in self.files(path):
            rmdir_tree(d)
