"""Defaults shared with Docker and containerd, so a container behaves the same under Skiff.

Capabilities: Docker's default set (containerd's CRI plugin uses the same 14). Inheritable stays empty
(containerd since CVE-2022-24769). Masked and read-only paths are containerd's defaults
(oci/spec.go populateDefaultUnixSpec); kubelet normally sends its own lists, which then win.
/sys/fs/cgroup is not mounted: the executor contract does not include cgroup mounts.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from skiff_runtime.oci.caps import CAP_NAMES, DOCKER_DEFAULT_CAPS

# One list of capability names for the whole runtime: the executor's (oci/caps.py) is the source.
DEFAULT_CAPABILITIES = list(DOCKER_DEFAULT_CAPS)

# Every capability the kernel knows about, in number order (linux/capability.h).
ALL_CAPABILITIES = [f"CAP_{name}" for name in CAP_NAMES]

MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/scsi",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def base_mounts(privileged: bool) -> list[dict[str, Any]]:
    sys_options = ["nosuid", "noexec", "nodev"] + ([] if privileged else ["ro"])
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_options},
    ]


def normalize_capability(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("CAP_") or upper == "ALL" else f"CAP_{upper}"


_SKIPPED_DEV = {"pts", "shm", "mqueue", "fd", "console"}


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every character and block device of the host, as OCI ``linux.devices`` entries: a privileged
    container sees the node's devices (containerd's WithDevices of the host's /dev). Skipped: what the
    container gets its own of (pts, shm, mqueue) and the host's console."""
    out: list[dict[str, Any]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d not in _SKIPPED_DEV]
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if dirpath == root and name in _SKIPPED_DEV:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
            if kind:
                out.append(
                    {
                        "path": path,
                        "type": kind,
                        "major": os.major(st.st_rdev),
                        "minor": os.minor(st.st_rdev),
                        "fileMode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid,
                        "gid": st.st_gid,
                    }
                )
    return out
