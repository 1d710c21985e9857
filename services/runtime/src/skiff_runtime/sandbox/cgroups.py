"""The pod-level parent cgroup, on cgroup v1 (every mounted controller hierarchy) or v2 (unified).

The runtime creates `<cgroup_parent>` (kubelet's, e.g. /kubepods/besteffort/pod<uid>, cgroupfs syntax) or
/skiff/pod<uid> when none is given; containers get `<pod cgroup>/<container id>` as their cgroupsPath and
the executor creates and deletes those. On v1, a new cpuset cgroup starts with empty cpus/mems and nothing
can join it, so the parent's values are copied down (what runc does). Removal kills any straggler still in
the tree and removes directories bottom-up, so RemovePodSandbox leaves no cgroup behind.

Reads of cgroup files for statistics live here too: they are plain files under /sys/fs/cgroup.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def is_unified() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def hierarchies() -> list[Path]:
    """Mount points of every cgroup hierarchy (v2: one; v1: each controller + the hybrid unified)."""
    if is_unified():
        return [CGROUP_ROOT]
    roots: list[Path] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] in ("cgroup", "cgroup2"):
                roots.append(Path(fields[4]))
    return sorted(set(roots))


def normalize_parent(cgroup_parent: str, pod_uid: str) -> str:
    if not cgroup_parent:
        return f"/skiff/pod{pod_uid.replace('-', '_') if pod_uid else 'unknown'}"
    if cgroup_parent.endswith(".slice"):
        raise ValueError(f"systemd cgroup parent {cgroup_parent!r} is not supported (use the cgroupfs driver)")
    return "/" + cgroup_parent.strip("/")


def _copy_cpuset(root: Path, rel: str) -> None:
    current = root
    for part in [p for p in rel.split("/") if p]:
        parent, current = current, current / part
        current.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            target = current / name
            if target.exists() and not target.read_text().strip():
                target.write_text((parent / name).read_text().strip())


def _enable_controllers(root: Path, rel: str) -> None:
    """v2: a child can only use the controllers its parent delegates in cgroup.subtree_control."""
    current = root
    for part in [p for p in rel.split("/") if p]:
        wanted = (current / "cgroup.controllers").read_text().split()
        try:
            (current / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in wanted))
        except OSError:
            pass  # a controller that cannot be delegated here simply stays off
        current = current / part
        current.mkdir(exist_ok=True)


def create(rel: str) -> None:
    if is_unified():
        _enable_controllers(CGROUP_ROOT, rel)
        return
    for root in hierarchies():
        if (root / "cpuset.cpus").exists():
            _copy_cpuset(root, rel)
        else:
            (root / rel.lstrip("/")).mkdir(parents=True, exist_ok=True)


def attach(rel: str, pid: int) -> None:
    """Move `pid` into the cgroup in every hierarchy (it must exist: see `create`)."""
    for root in hierarchies():
        procs = root / rel.lstrip("/") / "cgroup.procs"
        if procs.exists():
            procs.write_text(str(pid))


def _procs(path: Path) -> list[int]:
    try:
        return [int(x) for x in (path / "cgroup.procs").read_text().split()]
    except (FileNotFoundError, OSError):
        return []


def remove(rel: str, attempts: int = 50) -> None:
    """Kill what is left in the tree and rmdir it bottom-up in every hierarchy. Idempotent."""
    for root in hierarchies():
        top = root / rel.lstrip("/")
        if not top.exists():
            continue
        for _ in range(attempts):
            dirs = sorted((Path(d) for d, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True)
            for d in dirs:
                for pid in _procs(d):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                try:
                    d.rmdir()
                except OSError:
                    pass
            if not top.exists():
                break
            time.sleep(0.02)  # killed processes take a moment to leave the cgroup


def exists(rel: str) -> bool:
    return any((root / rel.lstrip("/")).exists() for root in hierarchies())


def read_int(rel: str, controller: str, name: str) -> int | None:
    """Read an integer cgroup file; on v2 `controller` is ignored. None if absent."""
    base = CGROUP_ROOT if is_unified() else CGROUP_ROOT / controller
    try:
        return int((base / rel.lstrip("/") / name).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError, OSError):
        return None


def read_keyed(rel: str, controller: str, name: str) -> dict[str, int]:
    base = CGROUP_ROOT if is_unified() else CGROUP_ROOT / controller
    out: dict[str, int] = {}
    try:
        for line in (base / rel.lstrip("/") / name).read_text().splitlines():
            key, _, value = line.partition(" ")
            if value.strip().isdigit():
                out[key] = int(value)
    except (FileNotFoundError, OSError):
        pass
    return out
