"""What this machine is: capacity and system info for the Node object (read from /proc and /etc)."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def memory_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def allocatable() -> dict[str, str]:
    """cpu and memory the Node reports as allocatable (all of the machine: no reservations yet)."""
    return {"cpu": str(cpu_count()), "memory": str(memory_bytes())}


def cpu_count() -> int:
    # Honour the CPU affinity mask (containers, taskset) rather than every CPU in the box.
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


def system_info() -> dict[str, str]:
    arch = platform.machine()
    return {
        "machine_id": _read("/etc/machine-id"),
        "system_uuid": _read("/sys/class/dmi/id/product_uuid"),
        "boot_id": _read("/proc/sys/kernel/random/boot_id"),
        "kernel_version": platform.release(),
        "os_image": os_image(),
        "operating_system": platform.system().lower(),
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(arch, arch),
    }
