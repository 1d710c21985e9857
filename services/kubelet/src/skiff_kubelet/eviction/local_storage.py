"""Local ephemeral storage limits: emptyDir `sizeLimit` and containers' `ephemeral-storage` limits.

Kubernetes enforces these by eviction, not by quota: every eviction round, before any node threshold is
looked at, each active pod's usage is measured and the first broken limit evicts the pod, in this order
(the kubelet's localStorageEviction):

    1. an emptyDir (not medium Memory) whose usage is above its sizeLimit
         -> `Usage of EmptyDir volume "x" exceeds the limit "1Mi". `
    2. the pod's ephemeral usage above the sum of its containers' limits
         -> `Pod ephemeral local storage usage exceeds the total limit of containers 1Mi. `
    3. one container's writable layer + logs above its own limit
         -> `Container x exceeded its local ephemeral storage limit "1Mi". `

The pod's ephemeral usage is what Kubernetes' Summary API counts: every container's writable layer and
logs, its disk-backed local volumes (emptyDir not in memory, configMap) and its etc-hosts file. The
writable layer counts toward a container because images and containers share the kubelet's filesystem
here (no dedicated imagefs). Volumes are measured as `du` does (allocated blocks, hard links once), by
walking the volume directory: no quota, so a pod is caught within one round after it crossed its limit.

Measurement (`measure`) reads the filesystem and belongs in a worker thread; `verdict` is pure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery.quantity import canonical_quantity, format_quantity, int_value

from skiff_kubelet.sandbox import pod_log_directory
from skiff_kubelet.volumes import pod_dir

RESOURCE = "ephemeral-storage"


@dataclass
class PodStorage:
    """One pod's measured local storage, in bytes."""

    volumes: dict[str, int] = field(default_factory=dict)  # local ephemeral volume name -> usage
    memory_volumes: dict[str, int] = field(default_factory=dict)  # emptyDir medium Memory: not in the total
    rootfs: dict[str, int] = field(default_factory=dict)  # container name -> writable layer
    logs: dict[str, int] = field(default_factory=dict)  # container name -> log files
    etc_hosts: int = 0

    def container(self, name: str) -> int:
        return self.rootfs.get(name, 0) + self.logs.get(name, 0)

    @property
    def total(self) -> int:
        names = set(self.rootfs) | set(self.logs)
        return sum(self.container(n) for n in names) + sum(self.volumes.values()) + self.etc_hosts


def has_limits(pod: pod_pb2.Pod) -> bool:
    """Whether the pod has anything to enforce (so pods without limits cost no measurement)."""
    if any(v.HasField("empty_dir") and v.empty_dir.HasField("size_limit") for v in pod.spec.volumes):
        return True
    return bool(_container_limits(pod))


def local_volumes(pod: pod_pb2.Pod) -> dict[str, Path]:
    """The pod's volumes Kubernetes counts as local ephemeral storage -> their directory on the node."""
    out: dict[str, Path] = {}
    for vol in pod.spec.volumes:
        if vol.HasField("empty_dir") and vol.empty_dir.medium != "Memory":
            out[vol.name] = Path("empty-dir") / vol.name
        elif vol.HasField("config_map"):
            out[vol.name] = Path("configmap") / vol.name
    return out


def memory_volumes(pod: pod_pb2.Pod) -> dict[str, Path]:
    """emptyDirs of medium Memory: not ephemeral storage, but their sizeLimit holds. Their tmpfs is sized
    to it (``tmpfs.py``: writes past it fail with ENOSPC); measured too, as Kubernetes' eviction does."""
    return {
        v.name: Path("empty-dir") / v.name
        for v in pod.spec.volumes
        if v.HasField("empty_dir") and v.empty_dir.medium == "Memory" and v.empty_dir.HasField("size_limit")
    }


def du(path: Path) -> int:
    """Bytes allocated under `path` (st_blocks, each inode once, symlinks not followed), as `du -s -B1`."""
    total, seen = 0, set()
    stack = [str(path)]
    while stack:
        current = stack.pop()
        try:
            st = os.lstat(current)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen:
            continue
        seen.add((st.st_dev, st.st_ino))
        total += st.st_blocks * 512
        if os.path.isdir(current) and not os.path.islink(current):
            try:
                stack.extend(e.path for e in os.scandir(current))
            except OSError:
                continue
    return total


def container_logs(folder: str) -> dict[str, int]:
    """Bytes of each container's log files under the pod's log folder (one sub-folder per container)."""
    out: dict[str, int] = {}
    try:
        with os.scandir(folder) as containers:
            for entry in containers:
                if entry.is_dir(follow_symlinks=False):
                    with os.scandir(entry.path) as files:
                        out[entry.name] = sum(f.stat(follow_symlinks=False).st_size for f in files if f.is_file())
    except OSError:
        pass
    return out


def volume_usage(pod: pod_pb2.Pod, root_dir: str) -> tuple[dict[str, int], int]:
    """(local ephemeral volume name -> bytes, etc-hosts bytes): what the Summary API reports too."""
    volumes_dir = pod_dir(root_dir, pod.metadata.uid) / "volumes"
    volumes = {name: du(volumes_dir / rel) for name, rel in local_volumes(pod).items()}
    try:
        etc_hosts = os.lstat(pod_dir(root_dir, pod.metadata.uid) / "etc-hosts").st_size
    except OSError:
        etc_hosts = 0
    return volumes, etc_hosts


def measure(pod: pod_pb2.Pod, rootfs: dict[str, int], *, root_dir: str, pod_log_dir: str) -> PodStorage:
    """Measure a pod's volumes, logs and etc-hosts; `rootfs` (container -> writable layer bytes) comes from
    the runtime's CRI stats."""
    volumes, etc_hosts = volume_usage(pod, root_dir)
    storage = PodStorage(
        volumes=volumes,
        rootfs=dict(rootfs),
        logs=container_logs(pod_log_directory(pod_log_dir, pod)),
        etc_hosts=etc_hosts,
    )
    volumes_dir = pod_dir(root_dir, pod.metadata.uid) / "volumes"
    for name, rel in memory_volumes(pod).items():
        storage.memory_volumes[name] = du(volumes_dir / rel)
    return storage


def _container_limits(pod: pod_pb2.Pod) -> dict[str, tuple[int, str]]:
    out = {}
    for c in pod.spec.containers:
        q = c.resources.limits.get(RESOURCE)
        if q is not None and q.value and int_value(q.value) != 0:
            out[c.name] = (int_value(q.value), q.value)
    return out


def _pod_limit(pod: pod_pb2.Pod) -> tuple[int, str] | None:
    """Kubernetes' PodLimits for ephemeral-storage (the containers' sum, or an init container's if larger),
    printed as Kubernetes prints the sum: in the format of the quantities added."""
    limits = _container_limits(pod)
    init = [
        (int_value(q.value), q.value)
        for c in pod.spec.init_containers
        if (q := c.resources.limits.get(RESOURCE)) is not None and q.value
    ]
    if not limits and not init:
        return None
    like = next(iter(limits.values()), init[0] if init else (0, ""))[1]
    value = max([sum(v for v, _ in limits.values()), *(v for v, _ in init)])
    return value, format_quantity(value, like)


def verdict(pod: pod_pb2.Pod, usage: PodStorage) -> str | None:
    """The eviction message for the first limit the pod breaks, in Kubernetes' order; None if none."""
    for vol in pod.spec.volumes:
        if not vol.HasField("empty_dir") or not vol.empty_dir.HasField("size_limit"):
            continue
        text = vol.empty_dir.size_limit.value
        size = int_value(text) if text else 0
        used = usage.volumes.get(vol.name, usage.memory_volumes.get(vol.name))
        if used is not None and size > 0 and used > size:
            return f'Usage of EmptyDir volume "{vol.name}" exceeds the limit "{canonical_quantity(text)}". '
    limit = _pod_limit(pod)
    if limit is not None and usage.total > limit[0]:
        return f"Pod ephemeral local storage usage exceeds the total limit of containers {limit[1]}. "
    for name, (value, text) in _container_limits(pod).items():
        if usage.container(name) > value:
            return f'Container {name} exceeded its local ephemeral storage limit "{canonical_quantity(text)}". '
    return None
