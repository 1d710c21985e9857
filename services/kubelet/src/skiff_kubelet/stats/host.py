"""What the kubelet reads from the host itself: node CPU, memory, network, filesystems, and a pod's network.

These are the numbers cAdvisor gives the real kubelet for the root container. The container runtime has no
view of them (CRI stats are per container), and a pod's network counters are per network namespace, which
the runtime's CRI stats leave empty; the kubelet reads them through any process of the pod, found in the pod
cgroup it named itself (`pod_cgroups.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from skiff_kubelet.pod_cgroups import CGROUP_FS, pod_cgroup_dirs

_TICK_NS = 10**9 // (os.sysconf("SC_CLK_TCK") or 100)


@dataclass(frozen=True)
class Interface:
    name: str
    rx_bytes: int
    rx_errors: int
    tx_bytes: int
    tx_errors: int


@dataclass(frozen=True)
class Memory:
    usage: int
    working_set: int
    available: int
    rss: int = 0
    page_faults: int = 0
    major_page_faults: int = 0


@dataclass(frozen=True)
class Filesystem:
    capacity: int
    available: int
    used: int
    inodes: int
    inodes_free: int


@dataclass(frozen=True)
class NodeSample:
    cpu_ns: int
    memory: Memory
    interfaces: list[Interface] = field(default_factory=list)
    fs: Filesystem | None = None
    boot_time: float = 0.0


def cpu_usage_ns(stat: str) -> int:
    """Busy CPU time of the whole machine from /proc/stat's `cpu` line (idle and iowait excluded)."""
    for line in stat.splitlines():
        if line.startswith("cpu "):
            v = [int(x) for x in line.split()[1:]]
            v += [0] * (8 - len(v))
            user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
            return (user + nice + system + irq + softirq + steal) * _TICK_NS
    return 0


def memory(meminfo: str) -> Memory:
    """Node memory as the kubelet's eviction manager sees it: working set = used - inactive file pages."""
    kb = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            kb[key] = int(parts[0]) * 1024
    total = kb.get("MemTotal", 0)
    usage = total - kb.get("MemFree", 0)
    working_set = max(usage - kb.get("Inactive(file)", 0), 0)
    return Memory(usage=usage, working_set=working_set, available=max(total - working_set, 0))


def interfaces(net_dev: str) -> list[Interface]:
    """/proc/<pid>/net/dev rows, loopback excluded (it is not the node's or the pod's traffic)."""
    out = []
    for line in net_dev.splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        v = rest.split()
        if name == "lo" or len(v) < 16:
            continue
        out.append(Interface(name, int(v[0]), int(v[2]), int(v[8]), int(v[10])))
    return out


def filesystem(path: str) -> Filesystem | None:
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    return Filesystem(
        capacity=capacity,
        available=available,
        used=(st.f_blocks - st.f_bfree) * st.f_frsize,
        inodes=st.f_files,
        inodes_free=st.f_ffree,
    )


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def boot_time() -> float:
    for line in _read("/proc/stat").splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def node_sample(root_dir: str) -> NodeSample:
    fs_path = root_dir if os.path.isdir(root_dir) else "/"
    return NodeSample(
        cpu_ns=cpu_usage_ns(_read("/proc/stat")),
        memory=memory(_read("/proc/meminfo")),
        interfaces=interfaces(_read("/proc/net/dev")),
        fs=filesystem(fs_path),
        boot_time=boot_time(),
    )


def _any_pid(folder: Path) -> int | None:
    """The first process found in the folder or its children (cgroup v2 keeps processes in leaves only)."""
    stack = [folder]
    while stack:
        current = stack.pop()
        for line in _read(current / "cgroup.procs").split():
            if line.isdigit():
                return int(line)
        try:
            stack.extend(p for p in current.iterdir() if p.is_dir())
        except OSError:
            continue
    return None


def pod_pid(cgroup_root: str, uid: str, *, fs: Path = CGROUP_FS) -> int | None:
    for folder in pod_cgroup_dirs(cgroup_root, uid, fs=fs):
        pid = _any_pid(folder)
        if pid is not None:
            return pid
    return None


class PodNetworks:
    """The pod's network counters, through /proc/<pid>/net/dev of any of its processes (its netns).

    The process found is remembered per pod and checked (it still lives in the pod's cgroup) on the next
    collection, so finding one costs a cgroup walk once per pod rather than once per collection."""

    def __init__(self, cgroup_root: str, *, fs: Path = CGROUP_FS) -> None:
        self.cgroup_root, self.fs = cgroup_root, fs
        self._pids: dict[str, int] = {}

    def read(self, uid: str) -> list[Interface]:
        pid = self._pids.get(uid)
        if pid is None or f"pod{uid}" not in _read(f"/proc/{pid}/cgroup"):
            pid = pod_pid(self.cgroup_root, uid, fs=self.fs)
            if pid is None:
                self._pids.pop(uid, None)
                return []
            self._pids[uid] = pid
        return interfaces(_read(f"/proc/{pid}/net/dev"))

    def forget_except(self, uids: set[str]) -> None:
        for gone in set(self._pids) - uids:
            del self._pids[gone]


def log_usage(folder: str) -> int:
    """Bytes of a pod's container logs (one small folder per container)."""
    total = 0
    try:
        with os.scandir(folder) as containers:
            for entry in containers:
                if entry.is_dir(follow_symlinks=False):
                    with os.scandir(entry.path) as files:
                        total += sum(f.stat(follow_symlinks=False).st_size for f in files if f.is_file())
    except OSError:
        pass
    return total
