"""Test/bench support: a busybox-static rootfs and a config.json shaped like the CRI layer's.

Lives in the package (not in tests/) so the benchmark and other components' tests can build the same
bundles. Needs Debian's ``busybox-static`` (``/usr/bin/busybox`` statically linked).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from skiff_runtime.oci.caps import DOCKER_DEFAULT_CAPS

BUSYBOX = "/usr/bin/busybox"  # Debian busybox-static: no shared libraries needed in the rootfs
APPLETS = (
    "sh cat echo ps hostname id ls mount sleep env pwd touch dd tail head mkdir rm true false "
    "kill grep stat wc seq printf yes cut test tr readlink"
).split()


def make_rootfs(root: Path) -> Path:
    rootfs = root / "rootfs"
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "work", "data"):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(BUSYBOX, rootfs / "bin" / "busybox")
    os.chmod(rootfs / "bin" / "busybox", 0o755)
    for applet in APPLETS:
        (rootfs / "bin" / applet).symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n")
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    os.chmod(rootfs / "tmp", 0o1777)
    return rootfs


def default_mounts() -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
    ]  # fmt: skip


MASKED = ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/acpi", "/proc/scsi", "/sys/firmware"]
READONLY = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def write_config(
    bundle: Path,
    rootfs: Path,
    args: list[str],
    *,
    cgroups_path: str,
    env: list[str] | None = None,
    cwd: str = "/",
    uid: int = 0,
    gid: int = 0,
    hostname: str = "skiff-test",
    readonly: bool = False,
    extra_mounts: list[dict[str, Any]] | None = None,
    resources: dict[str, Any] | None = None,
    namespaces: list[dict[str, str]] | None = None,
    process: dict[str, Any] | None = None,
    linux: dict[str, Any] | None = None,
) -> Path:
    """Write ``bundle/config.json``: new pid/mount/uts/ipc/network/cgroup namespaces, runc's masked and
    read-only paths, Docker's default capabilities, no_new_privs; keyword arguments override."""
    caps = list(DOCKER_DEFAULT_CAPS)
    config = {
        "ociVersion": "1.1.0",
        "process": {
            "terminal": False,
            "user": {"uid": uid, "gid": gid, "additionalGids": [gid]},
            "args": args,
            "env": env if env is not None else ["PATH=/bin", "HOME=/"],
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": True,
            **(process or {}),
        },
        "root": {"path": str(rootfs), "readonly": readonly},
        "hostname": hostname,
        "mounts": default_mounts() + (extra_mounts or []),
        "linux": {
            "namespaces": namespaces
            if namespaces is not None
            else [{"type": t} for t in ("pid", "mount", "uts", "ipc", "network", "cgroup")],
            "cgroupsPath": cgroups_path,
            "resources": resources or {},
            "maskedPaths": MASKED,
            "readonlyPaths": READONLY,
            **(linux or {}),
        },
    }
    bundle.mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config, indent=2))
    return bundle
