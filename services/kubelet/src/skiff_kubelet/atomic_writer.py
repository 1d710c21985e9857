"""Kubernetes' AtomicWriter: a volume's files change all at once or not at all.

Secret, configMap, downwardAPI and projected volumes are rewritten while containers read them. Writing
file by file (even with a rename per file) lets a reader see the new ``tls.crt`` next to the old
``tls.key``. The kubelet avoids that with one level of indirection, and so do we::

    <volume>/..2026_12_04_19_55_01.123456789.xyz/   the payload, written in full (a new dir per version)
    <volume>/..data -> ..2026_12_04_19_55_01.123...  the one symlink that is swapped (rename(2): atomic)
    <volume>/key    -> ..data/key                     what the user sees (first path component only:
    <volume>/sub    -> ..data/sub                     ``sub/app.conf`` is reached through ``sub``)

``write`` does nothing when the paths and contents are those already under ``..data`` (a periodic
sync costs reads, not writes). Otherwise it writes the new version into a fresh timestamped dir, lets
the caller set ownership on it (fsGroup, ``set_perms``) *before* it becomes visible, points a
temporary ``..data_tmp`` symlink at it and renames that over ``..data``. Then it adds the symlinks of
new keys, removes those of keys that are gone, and removes the older version dirs. A reader that
opens ``key`` resolves ``..data`` once, so it gets one version throughout.

Paths are checked first (no absolute path, no ``..`` element, none starting with ``..``, which would
collide with the writer's own names), so a bad ``items[].path`` is an error naming it, never a write
outside the volume.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

DATA_DIR = "..data"
_DATA_TMP = "..data_tmp"


class PayloadError(ValueError):
    """A payload path is not acceptable (absolute, escaping, reserved)."""


@dataclass(frozen=True)
class FileProjection:
    """One file of a volume: its bytes, its mode and (token files) the user that owns it."""

    data: bytes
    mode: int
    owner: int | None = None


def validate_path(rel: str) -> PurePosixPath:
    """Kubernetes' validatePath: relative, no ``..`` element, not starting with ``..``, not empty."""
    if not rel:
        raise PayloadError("path must not be empty")
    path = PurePosixPath(rel)
    if path.is_absolute():
        raise PayloadError(f"path {rel!r} must be relative (it escapes the volume)")
    if ".." in path.parts:
        raise PayloadError(f"path {rel!r} must not contain '..' (it escapes the volume)")
    if rel.startswith(".."):
        raise PayloadError(f"path {rel!r} must not start with '..'")
    if len(rel.encode()) > 4096:
        raise PayloadError(f"path {rel[:32]!r}...: longer than 4096 bytes")
    return path


def _check_payload(payload: Mapping[str, FileProjection]) -> dict[PurePosixPath, FileProjection]:
    clean = {validate_path(rel): f for rel, f in payload.items()}
    for path in clean:
        for parent in path.parents:
            if parent in clean:
                raise PayloadError(f"path {str(path)!r} is inside the file {str(parent)!r}")
    return clean


class AtomicWriter:
    def __init__(self, target: Path) -> None:
        self.target = target

    # -- reading the current version ----------------------------------------------------------------
    def current_dir(self) -> Path | None:
        """The version dir ``..data`` points at, if any."""
        link = self.target / DATA_DIR
        try:
            name = os.readlink(link)
        except OSError:
            return None
        return self.target / name

    def _unchanged(self, payload: dict[PurePosixPath, FileProjection]) -> bool:
        current = self.current_dir()
        if current is None or not current.is_dir():
            return False
        on_disk = {PurePosixPath(p.relative_to(current).as_posix()) for p in current.rglob("*") if p.is_file()}
        if on_disk != set(payload):
            return False
        try:
            return all((current / p).read_bytes() == f.data for p, f in payload.items())
        except OSError:
            return False

    # -- writing a new version ----------------------------------------------------------------------
    def write(self, payload: Mapping[str, FileProjection], set_perms: Callable[[Path], None] | None = None) -> bool:
        """Make the volume hold exactly ``payload``; True when a new version was written."""
        clean = _check_payload(payload)
        self.target.mkdir(parents=True, exist_ok=True)
        if self._unchanged(clean):
            self._link_user_visible(clean)  # idempotent: repairs a crash between swap and links
            return False
        new_dir = self._write_version(clean)
        if set_perms is not None:
            set_perms(new_dir)
        tmp_link = self.target / _DATA_TMP
        tmp_link.unlink(missing_ok=True)
        os.symlink(new_dir.name, tmp_link)
        os.rename(tmp_link, self.target / DATA_DIR)  # the swap: readers see the old or the new version
        self._link_user_visible(clean)
        self._remove_stale(clean, keep=new_dir.name)
        return True

    def _write_version(self, payload: dict[PurePosixPath, FileProjection]) -> Path:
        stamp = time.strftime("%Y_%m_%d_%H_%M_%S", time.gmtime()) + f".{time.time_ns() % 1_000_000_000:09d}"
        new_dir = Path(tempfile.mkdtemp(prefix=f"..{stamp}.", dir=self.target))
        try:
            os.chmod(new_dir, 0o755)
            for rel, f in sorted(payload.items()):
                path = new_dir / rel
                if path.parent != new_dir:
                    path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
                path.write_bytes(f.data)
                os.chmod(path, f.mode)
                if f.owner is not None:
                    os.chown(path, f.owner, -1)
        except BaseException:
            shutil.rmtree(new_dir, ignore_errors=True)
            raise
        return new_dir

    def _link_user_visible(self, payload: dict[PurePosixPath, FileProjection]) -> None:
        for top in sorted({p.parts[0] for p in payload}):
            visible = self.target / top
            want = f"{DATA_DIR}/{top}"
            if visible.is_symlink() and os.readlink(visible) == want:
                continue
            _remove(visible)  # a file from before the writer, or a wrong link
            os.symlink(want, visible)

    def _remove_stale(self, payload: dict[PurePosixPath, FileProjection], keep: str) -> None:
        tops = {p.parts[0] for p in payload}
        for entry in self.target.iterdir():
            name = entry.name
            if name in (DATA_DIR, keep) or name in tops:
                continue
            _remove(entry)  # a key no longer in the payload, or an older version dir


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
