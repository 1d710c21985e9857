"""Pod volumes on the node: emptyDir, hostPath, secret, configMap, projected (projected.py).

Layout (like Kubernetes')::

    <root-dir>/pods/<uid>/volumes/<plugin>/<volume-name>/...

emptyDir is a plain directory that lives as long as the pod (medium Memory is not a tmpfs yet: a
documented gap). secret/configMap volumes are projected as files, rewritten on each container
(re)start so a restarted container sees current data; mode bits follow defaultMode/items[].mode.
hostPath is used in place (type DirectoryOrCreate/FileOrCreate create it). The runtime bind-mounts the
resulting host paths; ``teardown`` removes the pod's directory once its sandbox is gone.

fsGroup (pod securityContext) owns the volumes Kubernetes gives it to (emptyDir, secret, configMap;
never hostPath): group set to fsGroup, group read (and write for emptyDir) added, setgid on
directories so new files inherit the group, as the kubelet's SetVolumeOwnership does.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from skiff.api.core.v1 import pod_pb2, volume_pb2

from skiff_kubelet import projected
from skiff_kubelet.env import ConfigError, Lookup


def pod_dir(root_dir: str, uid: str) -> Path:
    return Path(root_dir) / "pods" / uid


def _safe_join(base: Path, rel: str, what: str) -> Path:
    target = (base / rel).resolve()
    if not str(target).startswith(str(base.resolve())) or rel.startswith("/"):
        raise ConfigError(f"{what}: path {rel!r} escapes the volume")
    return target


def _project(
    dest: Path, data: dict[str, bytes], items: list[volume_pb2.KeyToPath], default_mode: int, what: str
) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    wanted: dict[Path, tuple[bytes, int]] = {}
    if items:
        for item in items:
            if item.key not in data:
                raise ConfigError(f'{what}: key "{item.key}" not found')
            mode = item.mode if item.HasField("mode") else default_mode
            wanted[_safe_join(dest, item.path, what)] = (data[item.key], mode)
    else:
        for key, value in data.items():
            wanted[_safe_join(dest, key, what)] = (value, default_mode)
    for path, (value, mode) in wanted.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(value)
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # atomic: a reader never sees half a file


def _apply_fs_group(path: Path, gid: int, *, readonly: bool) -> None:
    file_bits = 0o440 if readonly else 0o660
    for current in [path, *path.rglob("*")]:
        if current.is_symlink():
            continue
        st = current.stat()
        os.chown(current, -1, gid)
        bits = file_bits | (0o2110 if current.is_dir() else 0)
        os.chmod(current, (st.st_mode & 0o7777) | bits)


async def setup_volumes(
    pod: pod_pb2.Pod, root_dir: str, lookup: Lookup, tokens: projected.TokenManager | None = None
) -> dict[str, str]:
    """Materialise every volume; returns volume name -> host path."""
    base = pod_dir(root_dir, pod.metadata.uid) / "volumes"
    ns = pod.metadata.namespace
    paths: dict[str, str] = {}
    for vol in pod.spec.volumes:
        if vol.HasField("empty_dir"):
            path = base / "empty-dir" / vol.name
            path.mkdir(parents=True, exist_ok=True)
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
        elif vol.HasField("secret"):
            src = vol.secret
            path = base / "secret" / vol.name
            data = await lookup.secret(ns, src.secret_name)
            if data is None:
                if not src.optional:
                    raise ConfigError(f'secret "{src.secret_name}" not found')
                data = {}
            mode = src.default_mode if src.HasField("default_mode") else 0o644
            _project(path, data, list(src.items), mode, f'secret volume "{vol.name}"')
        elif vol.HasField("config_map"):
            cms = vol.config_map
            path = base / "configmap" / vol.name
            cm = await lookup.config_map(ns, cms.name)
            if cm is None:
                if not cms.optional:
                    raise ConfigError(f'configmap "{cms.name}" not found')
                cm = {}
            mode = cms.default_mode if cms.HasField("default_mode") else 0o644
            _project(
                path,
                {k: v.encode() for k, v in cm.items()},
                list(cms.items),
                mode,
                f'configMap volume "{vol.name}"',
            )
        elif vol.HasField("projected"):
            path = base / "projected" / vol.name
            tokens = tokens or projected.TokenManager(lookup.service_account_token)
            await projected.project(pod, vol, path, lookup, tokens)
        else:
            raise ConfigError(f'volume "{vol.name}": unsupported volume source')
        psc = pod.spec.security_context
        if psc.HasField("fs_group") and not vol.HasField("host_path"):
            _apply_fs_group(path, psc.fs_group, readonly=not vol.HasField("empty_dir"))
        paths[vol.name] = str(path)
    return paths


def teardown(root_dir: str, uid: str) -> None:
    shutil.rmtree(pod_dir(root_dir, uid), ignore_errors=True)
