"""Defaults shared with Docker and containerd, so a container behaves the same under Skiff.

Capabilities: Docker's default set (containerd's CRI plugin uses the same 14). Inheritable stays empty
(containerd since CVE-2022-24769). Masked and read-only paths are containerd's defaults
(oci/spec.go populateDefaultUnixSpec); kubelet normally sends its own lists, which then win.
/sys/fs/cgroup is not mounted: the executor contract does not include cgroup mounts.
"""

from __future__ import annotations

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
