"""Memory-backed volumes: a tmpfs at the volume's folder, so its bytes never reach the node's disk.

Kubernetes' secret volume plugin wraps an ``emptyDir`` of medium Memory, and so do the projected
plugin (it usually carries the ServiceAccount token) and an explicit ``emptyDir: {medium: Memory}``.
Skiff has one code path for the three: ``ensure`` mounts a tmpfs at the folder, then the atomic writer
writes its ``..data`` versions into it; a refresh swaps ``..data`` inside the same tmpfs, so the
containers' bind mounts of the folder see every version. The tmpfs root is ``0755`` and root's: the
kubelet's ``setupTmpfs`` passes no mode (the kernel's default ``1777``), but only the kubelet writes a
secret or projected volume, so Skiff leaves the sticky world-writable root out (an emptyDir is made
``0777`` afterwards, as on disk).

Size (KEP-1967, sizable memory-backed volumes, on by default since Kubernetes 1.22): the smallest of the
node's allocatable memory, the pod's memory limit (its containers' limits summed, or the largest init
container's if that is larger; a pod that sets none has none) and the emptyDir's ``sizeLimit``. A secret
or projected volume has no ``sizeLimit``, so it is capped by the pod's limit or the node's memory, as
in Kubernetes: no fixed cap that a large secret or CA bundle could hit, and the pages written are
charged to the writer's memory cgroup, not lost from sight.

Idempotent across a kubelet crash: ``ensure`` mounts only when ``/proc/self/mountinfo`` shows no tmpfs
at the folder. A kubelet killed with SIGKILL and started again finds its tmpfs and writes into it; a
second tmpfs stacked on top would hide the refreshed files from the containers bound to the first.

Teardown (``unmount_below``) unmounts every mount below the pod's folder, deepest first, before the
folder is removed: ``rmtree`` of a mounted tmpfs empties it and then fails to remove the mount point,
leaving the mount behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import re
from collections.abc import Mapping
from pathlib import Path

from skiff.api.core.v1 import container_pb2, pod_pb2, volume_pb2
from skiff_common.apimachinery import quantity

MODE = 0o755
_MNT_DETACH = 2
_ESCAPE = re.compile(r"\\([0-7]{3})")
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class MountError(OSError):
    """A tmpfs could not be mounted (not root, or no memory for it)."""


def is_memory_backed(vol: volume_pb2.Volume) -> bool:
    """Secret and projected volumes, and emptyDirs of medium Memory, live on a tmpfs."""
    if vol.HasField("empty_dir"):
        return vol.empty_dir.medium == "Memory"
    return vol.HasField("secret") or vol.HasField("projected")


def _unescape(field: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), field)


def mount_points(mountinfo: str | None = None) -> list[tuple[str, str]]:
    """(mount point, filesystem type) of every mount this process sees, in mount order."""
    text = mountinfo if mountinfo is not None else Path("/proc/self/mountinfo").read_text()
    out = []
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        fstype = line.split(" - ", 1)[1].split()[0]
        out.append((_unescape(fields[4]), fstype))
    return out


def fs_type(path: Path) -> str | None:
    """The filesystem type mounted exactly at ``path`` (the topmost one), or None."""
    target = os.path.realpath(path)
    found = None
    for point, fstype in mount_points():
        if point == target:
            found = fstype
    return found


def pod_memory_limit(pod: pod_pb2.Pod) -> int | None:
    """Kubernetes' PodLimits for memory: the containers' limits summed, or the largest init container's
    when it is larger; None when no container sets one."""

    def limit(c: container_pb2.Container) -> int | None:
        q = c.resources.limits.get("memory")
        return quantity.int_value(q.value) if q is not None and q.value else None

    apps = [v for c in pod.spec.containers if (v := limit(c)) is not None]
    inits = [v for c in pod.spec.init_containers if (v := limit(c)) is not None]
    total = max(sum(apps), max(inits, default=0))
    return total or None


def _node_memory(allocatable: Mapping[str, str]) -> int:
    if allocatable.get("memory"):
        return quantity.int_value(allocatable["memory"])
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def size_bytes(pod: pod_pb2.Pod, vol: volume_pb2.Volume, allocatable: Mapping[str, str]) -> int:
    """The tmpfs size (KEP-1967): min(node allocatable memory, the pod's memory limit, sizeLimit)."""
    sizes = [_node_memory(allocatable), pod_memory_limit(pod) or 0]
    if vol.HasField("empty_dir") and vol.empty_dir.HasField("size_limit") and vol.empty_dir.size_limit.value:
        sizes.append(quantity.int_value(vol.empty_dir.size_limit.value))
    return min((s for s in sizes if s > 0), default=0)


def ensure(path: Path, size: int) -> bool:
    """A tmpfs at ``path`` (created if missing); True when this call mounted it, False when one was
    there already (a restarted kubelet, a second container start)."""
    path.mkdir(parents=True, exist_ok=True)
    if fs_type(path) == "tmpfs":
        return False
    options = f"mode={MODE:o}" + (f",size={size}" if size > 0 else "")
    if _libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", 0, options.encode()) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"cannot mount a tmpfs for the volume at {path}: {os.strerror(err)}")
    return True


def unmount_below(folder: Path) -> list[str]:
    """Unmount every mount at or below ``folder``, deepest first; the points unmounted."""
    prefix, done = os.path.realpath(folder), []
    for _ in range(8):  # a stacked mount shows again after the top one goes
        points = [p for p, _ in mount_points() if p == prefix or p.startswith(prefix + "/")]
        if not points:
            break
        for point in sorted(set(points), key=lambda p: p.count("/"), reverse=True):
            target = os.fsencode(point)
            if _libc.umount2(target, 0) != 0 and ctypes.get_errno() == errno.EBUSY:
                _libc.umount2(target, _MNT_DETACH)  # still held (a cwd): detached, freed when let go
            done.append(point)
    return done
