"""Idmapped lower dirs for a container rootfs in a user namespace (see ``snapshots.py``).

Each lower dir is cloned as a detached mount (``open_tree(OPEN_TREE_CLONE)``), idmapped through the
pod's pinned user namespace (``mount_setattr(MOUNT_ATTR_IDMAP)``) and handed to overlayfs as
``/proc/self/fd/<n>``: overlayfs resolves its layer paths at mount time and keeps its own references, so
the clones need no mount point and vanish when their fds are closed. The shared layer snapshots are never
chowned, and the same layer serves pods with different id ranges.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from skiff_runtime.oci import syscalls as sc


@dataclass(frozen=True)
class IdMap:
    userns_path: str  # the pod's pinned user namespace
    root_uid: int  # host uid of the container's root (the range base)
    root_gid: int


@contextmanager
def lowers(dirs: Sequence[str], idmap: IdMap) -> Iterator[list[str]]:
    """Yields ``/proc/self/fd/<n>`` paths of idmapped clones of ``dirs``; closes them afterwards."""
    fds: list[int] = []
    userns = os.open(idmap.userns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for d in dirs:
            fd = sc.open_tree(d, sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC)
            fds.append(fd)
            sc.mount_setattr_idmap(fd, userns, recursive=False)
        yield [f"/proc/self/fd/{fd}" for fd in fds]
    finally:
        for fd in fds:
            os.close(fd)
        os.close(userns)
