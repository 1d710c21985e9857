"""Read-only layer snapshots and per-container overlay rootfs mounts.

Layout under `<root>/snapshots/`:

    layers/<chain-id hex>/fs        one unpacked layer (an overlay lower dir), shared by every image that
                                    has the same layer stack below it; `.complete` marks it done
    active/<container id>/upper     the container's writable layer
    active/<container id>/work      overlayfs' scratch dir (same filesystem as upper, as it requires)

A layer is keyed by its chain ID (OCI image spec: chain(L0)=diff(L0), chain(Ln)=sha256(chain(Ln-1)+" "+
diff(Ln))), so two images sharing a base share its directories and each layer is unpacked ONCE. Unpacking
goes to a temporary directory that is renamed into place at the end, so a crash leaves no half layer.
Concurrent requests for one layer in this process share one unpack (flight.py); should another process
(`skiff-runtime import`) finish the same layer first, our copy is dropped rather than replacing its.

A container's rootfs is `mount -t overlay -o lowerdir=<top>:...:<bottom>,upperdir=..,workdir=..` on the
bundle's rootfs directory, exactly what containerd's overlay snapshotter produces. An image without layers
gets an empty lower dir. The mount options must fit in one page (4 KiB): with ~90-byte layer paths that is
about 40 layers; deeper images are refused with a clear error rather than a cryptic EINVAL.

In a user namespace (``hostUsers: false``), as containerd's overlay snapshotter with remapped ids: each
shared lower dir is an idmapped mount through the pod's user namespace (``idmapped.py``), so the image's
root-owned files are the container root's without a chown, and the per-container upper dir is owned by
the pod's host root id (files the container creates are stored with host ids). overlayfs itself cannot
be idmapped, and an idmapped upper fails (its work dir would be created by the unmapped host root).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path

from skiff_runtime.images import idmapped
from skiff_runtime.images.flight import SingleFlight
from skiff_runtime.images.unpack import unpack_layer

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
MNT_DETACH = 2
PAGE_LIMIT = 4096
_UNPACKS = SingleFlight()


class LayerMismatch(ValueError):
    """The unpacked layer does not hash to the diff_id the image config promised."""


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    chains: list[str] = []
    for diff in diff_ids:
        if not chains:
            chains.append(diff)
        else:
            chains.append("sha256:" + hashlib.sha256(f"{chains[-1]} {diff}".encode()).hexdigest())
    return chains


def mount(source: str, target: Path, fstype: str, flags: int = 0, data: str = "") -> None:
    if _libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags, data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {fstype} on {target}: {os.strerror(err)}")


def unmount(target: Path) -> None:
    """Unmount (lazily, so a straggling process cannot make removal fail); no error if not mounted."""
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise OSError(err, f"umount {target}: {os.strerror(err)}")


def is_mountpoint(path: Path) -> bool:
    return os.path.ismount(path)


class Snapshotter:
    def __init__(self, root: Path) -> None:
        self.root = root / "snapshots"
        self.layers = self.root / "layers"
        self.active = self.root / "active"
        self.layers.mkdir(parents=True, exist_ok=True)
        self.active.mkdir(parents=True, exist_ok=True)
        (self.root / "empty").mkdir(exist_ok=True)

    def layer_dir(self, chain_id: str) -> Path:
        return self.layers / chain_id.removeprefix("sha256:") / "fs"

    def has_layer(self, chain_id: str) -> bool:
        return (self.layers / chain_id.removeprefix("sha256:") / ".complete").exists()

    def ensure_layer(self, chain_id: str, diff_id: str, blob: Path, media_type: str) -> bool:
        """Unpack the layer unless present; returns True if it was unpacked now."""
        if self.has_layer(chain_id):
            return False
        return _UNPACKS.do(str(self.layers / chain_id), lambda: self._unpack(chain_id, diff_id, blob, media_type))

    def _unpack(self, chain_id: str, diff_id: str, blob: Path, media_type: str) -> bool:
        if self.has_layer(chain_id):  # finished by the flight before ours
            return False
        tmp = self.layers / f".tmp-{uuid.uuid4().hex}"
        try:
            got = unpack_layer(blob, tmp / "fs", media_type)
            if got != diff_id:
                raise LayerMismatch(f"layer unpacked to {got}, but the image config says {diff_id}")
            (tmp / ".complete").touch()
            final = self.layers / chain_id.removeprefix("sha256:")
            if self.has_layer(chain_id):  # another process was faster: keep its copy
                return False
            if final.exists():  # a half directory from a crash (no .complete): replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
            return True
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def remove_layer(self, chain_id: str) -> None:
        shutil.rmtree(self.layers / chain_id.removeprefix("sha256:"), ignore_errors=True)

    def layer_ids(self) -> list[str]:
        return [f"sha256:{p.name}" for p in self.layers.iterdir() if not p.name.startswith(".")]

    def mount_rootfs(
        self, container_id: str, chains: Sequence[str], target: Path, idmap: idmapped.IdMap | None = None
    ) -> None:
        """Mount the overlay for a container (layers bottom-first in `chains`) on `target`; with ``idmap``
        its lowers are idmapped through that user namespace and its upper owned by the mapped root."""
        lowers = [str(self.layer_dir(c)) for c in reversed(chains)] or [str(self.root / "empty")]
        for lower in lowers:
            if not os.path.isdir(lower):
                raise FileNotFoundError(f"layer snapshot {lower} is missing; re-import the image")
        active = self.active / container_id
        (active / "upper").mkdir(parents=True, exist_ok=True)
        (active / "work").mkdir(parents=True, exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        if is_mountpoint(target):
            return  # already mounted (e.g. CreateContainer retried after a crash)
        if idmap is not None:
            os.chown(active / "upper", idmap.root_uid, idmap.root_gid)
            with idmapped.lowers(lowers, idmap) as fd_paths:
                self._mount_overlay(target, fd_paths, active, len(chains))
            return
        self._mount_overlay(target, lowers, active, len(chains))

    @staticmethod
    def _mount_overlay(target: Path, lowers: Sequence[str], active: Path, layers: int) -> None:
        data = f"lowerdir={':'.join(lowers)},upperdir={active / 'upper'},workdir={active / 'work'}"
        if len(data) >= PAGE_LIMIT:
            raise ValueError(f"image has too many layers ({layers}) for one overlay mount")
        mount("overlay", target, "overlay", 0, data)

    def release_rootfs(self, container_id: str, target: Path | None) -> None:
        """Unmount the container's rootfs (if mounted) and delete its writable layer. Idempotent."""
        if target is not None and is_mountpoint(target):
            unmount(target)
        shutil.rmtree(self.active / container_id, ignore_errors=True)

    def writable_usage(self, container_id: str) -> tuple[int, int]:
        """(bytes, inodes) of the container's upper dir."""
        total, count = 0, 0
        for dirpath, dirnames, filenames in os.walk(self.active / container_id / "upper"):
            for name in filenames + dirnames:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                    count += 1
                except FileNotFoundError:
                    pass
        return total, count
