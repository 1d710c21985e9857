"""Resolve an image or CRI user ("name", "uid", "uid:gid", "name:group") against the container's rootfs.

/etc/passwd and /etc/group are read from the mounted rootfs without following symlinks out of it: a
symlinked /etc/passwd in a hostile image must not make the runtime read the host's file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


class UserError(ValueError):
    pass


@dataclass
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    name: str = ""


def _read_in_root(rootfs: Path, rel: str) -> list[list[str]]:
    current = rootfs
    for part in rel.strip("/").split("/"):
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            return []
        if stat.S_ISLNK(st.st_mode):
            return []  # refuse to follow links in the image's /etc
    if not stat.S_ISREG(st.st_mode):
        return []
    rows = []
    for line in current.read_text(errors="replace").splitlines():
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def resolve(rootfs: Path, user: str, group: str = "") -> ResolvedUser:
    """Resolve `user[:group]`; numeric IDs need no entry in /etc/passwd."""
    if ":" in user and not group:
        user, group = user.split(":", 1)
    passwd = _read_in_root(rootfs, "etc/passwd")
    groups = _read_in_root(rootfs, "etc/group")
    uid, gid, name = 0, 0, ""
    if user in ("", "root"):
        uid, gid, name = 0, 0, "root"
    elif user.isdigit():
        uid = int(user)
        entry = next((row for row in passwd if len(row) > 3 and row[2] == user), None)
        if entry:
            gid, name = int(entry[3]), entry[0]
    else:
        entry = next((row for row in passwd if len(row) > 3 and row[0] == user), None)
        if entry is None:
            raise UserError(f"user {user!r} not found in the image's /etc/passwd")
        uid, gid, name = int(entry[2]), int(entry[3]), user
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            g = next((row for row in groups if len(row) > 2 and row[0] == group), None)
            if g is None:
                raise UserError(f"group {group!r} not found in the image's /etc/group")
            gid = int(g[2])
    extra = []
    if name:
        extra = sorted(
            {
                int(row[2])
                for row in groups
                if len(row) > 3 and name in row[3].split(",") and row[2].isdigit() and int(row[2]) != gid
            }
        )
    return ResolvedUser(uid=uid, gid=gid, additional_gids=extra, name=name)
