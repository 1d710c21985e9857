"""Observations of the eviction signals from one stats snapshot: signal -> (available, capacity).

As Kubernetes computes them: memory.available = node capacity - working set (not MemAvailable);
nodefs/imagefs from the filesystem holding the kubelet's root directory (one filesystem here: images
and containers' layers live beside it); pid.available = pid_max - processes now.
"""

from __future__ import annotations

from pathlib import Path

from skiff_kubelet.stats.host import NodeSample

CONDITION = {
    "memory.available": "MemoryPressure",
    "nodefs.available": "DiskPressure",
    "nodefs.inodesFree": "DiskPressure",
    "imagefs.available": "DiskPressure",
    "pid.available": "PIDPressure",
}
RESOURCE = {  # what a signal's eviction message names
    "memory.available": "memory",
    "nodefs.available": "ephemeral-storage",
    "nodefs.inodesFree": "inodes",
    "imagefs.available": "ephemeral-storage",
    "pid.available": "pids",
}


def _pids() -> tuple[int, int]:
    try:
        pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[1])
    except (OSError, ValueError, IndexError):
        return 0, 0
    return pid_max - running, pid_max


def observe(node: NodeSample, memory_capacity: int) -> dict[str, tuple[int, int]]:
    """From the node's own sample (cheap: /proc and statvfs), not a whole pods snapshot: pods' usage is
    read only when a pod has to be chosen."""
    out: dict[str, tuple[int, int]] = {}
    capacity = memory_capacity or node.memory.usage + node.memory.available
    out["memory.available"] = (max(capacity - node.memory.working_set, 0), capacity)
    fs = node.fs
    if fs is not None:
        out["nodefs.available"] = out["imagefs.available"] = (fs.available, fs.capacity)
        out["nodefs.inodesFree"] = (fs.inodes_free, fs.inodes)
    available, pid_max = _pids()
    if pid_max:
        out["pid.available"] = (available, pid_max)
    return out
