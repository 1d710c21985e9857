"""Pod volumes on the node: emptyDir, hostPath, and the written ones (secret, configMap, downwardAPI,
projected: ``volume_sources.py``).

Layout (like Kubernetes')::

    <root-dir>/pods/<uid>/volumes/<plugin>/<volume-name>/...

emptyDir is a directory that lives as long as the pod. Secret, configMap, downwardAPI and projected
volumes are written by the atomic writer (``..data`` symlink swap, ``atomic_writer.py``) when a sync
(re)starts containers, and refreshed in place while the pod runs (``volume_refresh.py``); mode bits
follow defaultMode/items[].mode. Secret and projected volumes and emptyDirs of medium Memory are a
tmpfs mounted at the volume's folder first (``tmpfs.py``: secret bytes never reach the node's disk).
hostPath is used in place (type DirectoryOrCreate/FileOrCreate create it). The runtime bind-mounts the
resulting host paths; ``teardown`` unmounts the pod's tmpfs volumes and removes the pod's directory
once its sandbox is gone (a finished pod's tmpfs volumes go when its containers stop:
``release_memory_backed``).

fsGroup (pod securityContext) owns the volumes Kubernetes gives it to (emptyDir, secret, configMap;
never hostPath): group set to fsGroup, group read (and write for emptyDir) added, setgid on
directories so new files inherit the group, as the kubelet's SetVolumeOwnership does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from skiff.api.core.v1 import pod_pb2, volume_pb2

from skiff_kubelet import projected, tmpfs, volume_sources
from skiff_kubelet.env import ConfigError, Lookup


def pod_dir(root_dir: str, uid: str) -> Path:
    return Path(root_dir) / "pods" / uid


def _apply_fs_group(path: Path, gid: int, *, readonly: bool) -> None:
    file_bits = 0o440 if readonly else 0o660
    for current in [path, *path.rglob("*")]:
        if current.is_symlink():
            continue
        st = current.stat()
        os.chown(current, -1, gid)
        bits = file_bits | (0o2110 if current.is_dir() else 0)
        os.chmod(current, (st.st_mode & 0o7777) | bits)


def fs_group_perms(pod: pod_pb2.Pod, vol: volume_pb2.Volume) -> Callable[[Path], None] | None:
    """What fsGroup does to this volume's files (None: nothing; hostPath is never touched)."""
    psc = pod.spec.security_context
    if not psc.HasField("fs_group") or vol.HasField("host_path"):
        return None
    gid, readonly = psc.fs_group, not vol.HasField("empty_dir")
    return lambda path: _apply_fs_group(path, gid, readonly=readonly)


async def setup_volumes(
    pod: pod_pb2.Pod,
    root_dir: str,
    lookup: Lookup,
    tokens: projected.TokenManager | None = None,
    allocatable: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Materialise every volume; returns volume name -> host path. ``allocatable`` (the node's) is what
    a downwardAPI resourceFieldRef reads for a limit the container does not set."""
    base = pod_dir(root_dir, pod.metadata.uid) / "volumes"
    paths: dict[str, str] = {}
    for vol in pod.spec.volumes:
        if vol.HasField("empty_dir"):
            path = base / "empty-dir" / vol.name
            path.mkdir(parents=True, exist_ok=True)
            _memory_backed(pod, vol, path, allocatable)
            os.chmod(path, 0o777)  # like Kubernetes: writable by any container user
        elif vol.HasField("host_path"):
            path = Path(vol.host_path.path)
            kind = vol.host_path.type if vol.host_path.HasField("type") else ""
            if kind == "DirectoryOrCreate":
                path.mkdir(parents=True, exist_ok=True)
            elif kind == "FileOrCreate" and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
            elif kind in ("Directory", "File") and not path.exists():
                raise ConfigError(f'hostPath volume "{vol.name}": {path} does not exist')
        elif (written := volume_sources.source_kind(vol)) is not None:
            path = base / volume_sources.PLUGIN_DIRS[written] / vol.name
            _memory_backed(pod, vol, path, allocatable)  # before the writer's first byte
            tokens = tokens or projected.TokenManager(lambda *a: lookup.service_account_token(*a))
            # fsGroup reaches a new version's files before the swap makes them visible.
            await volume_sources.write(pod, vol, path, lookup, tokens, allocatable or {}, fs_group_perms(pod, vol))
        else:
            raise ConfigError(f'volume "{vol.name}": unsupported volume source')
        perms = fs_group_perms(pod, vol)
        if perms is not None:
            perms(path)  # the volume dir itself too (idempotent on what the writer already did)
        paths[vol.name] = str(path)
    return paths


def _memory_backed(pod: pod_pb2.Pod, vol: volume_pb2.Volume, path: Path, allocatable: Mapping[str, str] | None) -> None:
    if not tmpfs.is_memory_backed(vol):
        return
    try:
        tmpfs.ensure(path, tmpfs.size_bytes(pod, vol, allocatable or {}))
    except tmpfs.MountError as exc:
        raise ConfigError(f'volume "{vol.name}": {exc.strerror}') from None


def release_memory_backed(root_dir: str, pod: pod_pb2.Pod) -> list[str]:
    """Unmount and remove a finished pod's tmpfs volumes; the names of those released. Kubernetes tears
    a terminated pod's volumes down without waiting for its deletion (its fix for memory-backed volumes
    leaking through terminated pods; the ``--keep-terminated-pod-volumes`` escape is gone), so secrets and
    tokens leave the node's memory when the containers stop."""
    base, released = pod_dir(root_dir, pod.metadata.uid) / "volumes", []
    for vol in pod.spec.volumes:
        if not tmpfs.is_memory_backed(vol):
            continue
        plugin = (
            "empty-dir"
            if vol.HasField("empty_dir")
            else volume_sources.PLUGIN_DIRS[str(volume_sources.source_kind(vol))]
        )
        path = base / plugin / vol.name
        if path.exists():
            tmpfs.unmount_below(path)
            shutil.rmtree(path, ignore_errors=True)
            released.append(vol.name)
    return released


def pod_uids(root_dir: str) -> set[str]:
    """The pods that have a folder on this node (to find those whose pod is gone)."""
    try:
        return {entry.name for entry in (Path(root_dir) / "pods").iterdir() if entry.is_dir()}
    except FileNotFoundError:
        return set()


def teardown(root_dir: str, uid: str) -> None:
    """Unmount the pod's tmpfs volumes, then remove its directory (a mounted tmpfs would survive it)."""
    folder = pod_dir(root_dir, uid)
    tmpfs.unmount_below(folder)
    shutil.rmtree(folder, ignore_errors=True)
