"""UpdateContainerResources: write new limits straight into the container's cgroup (v1 or v2 files).

The executor contract has no update call, and the cgroup is the only thing that enforces limits, so this
is the same thing runc's `update` does, for the fields kubelet resizes (CPU and memory).
"""

from __future__ import annotations

from pathlib import Path

from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_runtime.sandbox.cgroups import CGROUP_ROOT, is_unified


def _write(path: Path, value: str) -> None:
    if path.parent.is_dir():
        path.write_text(value)


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] -> v2 cpu.weight [1, 10000], as runc and the kubelet convert."""
    return 1 + ((max(2, min(shares, 262144)) - 2) * 9999) // 262142


def apply(cgroups_path: str, res: cri.LinuxContainerResources) -> None:
    rel = cgroups_path.lstrip("/")
    if is_unified():
        base = CGROUP_ROOT / rel
        if res.cpu_shares:
            _write(base / "cpu.weight", str(shares_to_weight(res.cpu_shares)))
        if res.cpu_quota or res.cpu_period:
            quota = str(res.cpu_quota) if res.cpu_quota > 0 else "max"
            _write(base / "cpu.max", f"{quota} {res.cpu_period or 100000}")
        if res.memory_limit_in_bytes:
            _write(base / "memory.max", str(res.memory_limit_in_bytes))
        for key, value in res.unified.items():
            _write(base / key, value)
        return
    if res.cpu_shares:
        _write(CGROUP_ROOT / "cpu" / rel / "cpu.shares", str(res.cpu_shares))
    if res.cpu_period:
        _write(CGROUP_ROOT / "cpu" / rel / "cpu.cfs_period_us", str(res.cpu_period))
    if res.cpu_quota:
        _write(CGROUP_ROOT / "cpu" / rel / "cpu.cfs_quota_us", str(res.cpu_quota))
    if res.memory_limit_in_bytes:
        _write(CGROUP_ROOT / "memory" / rel / "memory.limit_in_bytes", str(res.memory_limit_in_bytes))
