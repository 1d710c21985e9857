"""Safe layer unpacking into an overlayfs lower directory.

An image layer is a tar stream from a stranger. We unpack it ourselves, member by member, instead of
trusting `tarfile.extractall`, and refuse (with `HostileLayer`, naming the member) anything that could
touch the host outside the target directory:

* absolute member names and names with a `..` component (path traversal);
* writing *through* a symlink: every parent of a member must be a real directory inside the target, so a
  layer that plants `etc -> /etc` (or `../../..`) and then writes `etc/passwd` is refused. Symlinks
  themselves are fine, whatever they point at: they are resolved inside the container's root at run time,
  and `/bin/sh -> /bin/busybox` style absolute links are everywhere in real images;
* hard links whose target is outside the layer or reached through a symlink;
* character and block device nodes (a container gets its devices from the runtime, never from an image).

OCI whiteouts become overlayfs whiteouts, because every layer is one lower directory of an overlay mount
(containerd's overlay snapshotter does the same conversion): `.wh.<name>` becomes a 0:0 character device
`<name>`, and `.wh..wh..opq` sets `trusted.overlay.opaque=y` on its directory.

The uncompressed bytes are hashed on the way through so the caller can check the layer's diff_id from the
image config, which is what makes a snapshot trustworthy to share between images.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import shutil
import stat
import tarfile
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"


class HostileLayer(ValueError):
    """The layer contains a member we refuse to unpack; the message names it and says why."""


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _HashingReader(io.BufferedIOBase):
    """File-like wrapper that hashes everything read through it. A ``BufferedIOBase`` for what tarfile
    asks of a file object (``write``, ``seek``, ``tell`` raise ``UnsupportedOperation``: a stream
    mode, ``r|``, only reads); closing it leaves the wrapped stream to its owner."""

    def __init__(self, raw: _Readable) -> None:
        super().__init__()
        self._raw = raw
        self.digester = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1, /) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        self.digester.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


def _clean_name(name: str) -> PurePosixPath:
    if name.startswith("/"):
        raise HostileLayer(f"member {name!r}: absolute path")
    parts = [p for p in PurePosixPath(name).parts if p not in (".", "")]
    if ".." in parts:
        raise HostileLayer(f"member {name!r}: path traversal ('..')")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


def _ensure_parent_dirs(root: Path, rel: PurePosixPath, member: str) -> Path:
    """Create missing parents of `rel` under root; refuse any parent that is not a real directory."""
    current = root
    for part in rel.parts[:-1]:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            os.mkdir(current, 0o755)
            continue
        if stat.S_ISLNK(st.st_mode):
            raise HostileLayer(f"member {member!r}: parent {part!r} is a symlink (write through a link)")
        if not stat.S_ISDIR(st.st_mode):
            raise HostileLayer(f"member {member!r}: parent {part!r} is not a directory")
    return root / rel


def _remove_existing(path: Path, keep_dir: bool) -> None:
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        if keep_dir:
            return
        shutil.rmtree(path)  # never follows symlinks out of the tree
    else:
        path.unlink()


def _apply_xattrs(path: Path, member: tarfile.TarInfo) -> None:
    for key, value in member.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            try:
                os.setxattr(
                    path,
                    key.removeprefix("SCHILY.xattr."),
                    value.encode("utf-8", "surrogateescape"),
                    follow_symlinks=False,
                )
            except OSError:
                pass  # an xattr the filesystem does not support is not worth failing the image for


def _open_decompressed(stream: BinaryIO, media_type: str) -> _Readable:
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if "zstd" in media_type or head == b"\x28\xb5\x2f\xfd":
        raise HostileLayer(f"unsupported layer compression (zstd) for media type {media_type!r}")
    if "gzip" in media_type or head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stream)
    return stream


def unpack_layer(blob: Path, target: Path, media_type: str = "") -> str:
    """Unpack a (possibly gzip-compressed) tar layer into `target`; returns its diff_id (tar sha256)."""
    target.mkdir(parents=True, exist_ok=True)
    with open(blob, "rb", buffering=1 << 20) as raw:
        reader = _HashingReader(_open_decompressed(raw, media_type))
        dir_times: list[tuple[Path, float]] = []
        try:
            with tarfile.open(fileobj=reader, mode="r|") as tar:
                for member in tar:
                    _unpack_member(tar, member, target, dir_times)
        except (tarfile.TarError, EOFError, gzip.BadGzipFile) as err:
            raise HostileLayer(f"corrupt layer archive: {err}") from None
        reader.drain()
    for path, mtime in reversed(dir_times):
        os.utime(path, (mtime, mtime), follow_symlinks=False)
    return f"sha256:{reader.digester.hexdigest()}"


def _unpack_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, root: Path, dir_times: list[tuple[Path, float]]
) -> None:
    rel = _clean_name(member.name)
    if rel == PurePosixPath("."):
        return  # the layer root itself
    base = rel.name
    if base == OPAQUE_MARKER:
        parent = _ensure_parent_dirs(root, rel, member.name).parent
        os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y")
        return
    if base.startswith(WHITEOUT_PREFIX):
        hidden = rel.parent / base.removeprefix(WHITEOUT_PREFIX)
        path = _ensure_parent_dirs(root, hidden, member.name)
        _remove_existing(path, keep_dir=False)
        os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))
        return
    path = _ensure_parent_dirs(root, rel, member.name)
    if member.ischr() or member.isblk():
        raise HostileLayer(f"member {member.name!r}: device nodes are not allowed in image layers")
    if member.isdir():
        _remove_existing(path, keep_dir=True)
        if not path.is_dir():
            os.mkdir(path, 0o755)
        dir_times.append((path, float(member.mtime)))
    elif member.issym():
        _remove_existing(path, keep_dir=False)
        os.symlink(member.linkname, path)
    elif member.islnk():
        link_rel = _clean_name(member.linkname)
        source = _ensure_parent_dirs(root, link_rel, member.name)
        try:
            st = os.lstat(source)
        except FileNotFoundError:
            raise HostileLayer(f"member {member.name!r}: hard link target {member.linkname!r} missing") from None
        if stat.S_ISLNK(st.st_mode) or stat.S_ISDIR(st.st_mode):
            raise HostileLayer(f"member {member.name!r}: hard link to a symlink or directory")
        _remove_existing(path, keep_dir=False)
        os.link(source, path, follow_symlinks=False)
        return  # a hard link shares the target's inode: its metadata is the target's
    elif member.isfifo():
        _remove_existing(path, keep_dir=False)
        os.mkfifo(path)
    elif member.isreg():
        _remove_existing(path, keep_dir=False)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as out:
            source_file = tar.extractfile(member)
            assert source_file is not None
            while chunk := source_file.read(1 << 20):
                out.write(chunk)
    else:
        raise HostileLayer(f"member {member.name!r}: unsupported tar entry type {member.type!r}")
    os.lchown(path, member.uid, member.gid)
    if not member.issym():
        os.chmod(path, member.mode & 0o7777)
    _apply_xattrs(path, member)
    if not member.isdir():
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
