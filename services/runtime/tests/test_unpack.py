"""Layer unpacking: hostile content is refused, OCI whiteouts become overlayfs whiteouts (we are root)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path

import pytest
from skiff_runtime.images.snapshots import Snapshotter, mount, unmount
from skiff_runtime.images.unpack import OVERLAY_OPAQUE_XATTR, HostileLayer, unpack_layer

# unpacking sets owners (lchown), creates whiteout devices (mknod) and mounts overlays: root only
pytestmark = pytest.mark.root


def _tar(path: Path, members: list[tuple[str, str, bytes | str]]) -> Path:
    """members: (name, kind, payload) with kind in file|dir|sym|hard|chr|fifo."""
    with tarfile.open(path, "w") as tar:
        for name, kind, payload in members:
            info = tarfile.TarInfo(name)
            data = None
            if kind == "file":
                assert isinstance(payload, bytes)
                info.size, data = len(payload), io.BytesIO(payload)
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "hard":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload)
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            tar.addfile(info, data)
    return path


@pytest.mark.parametrize(
    ("members", "why"),
    [
        ([("../escape", "file", b"x")], "path traversal"),
        ([("a/../../escape", "file", b"x")], "path traversal"),
        ([("/etc/evil", "file", b"x")], "absolute path"),
        ([("etc", "sym", "/etc"), ("etc/evil", "file", b"x")], "symlink"),
        ([("up", "sym", "../../../../"), ("up/evil", "file", b"x")], "symlink"),
        ([("link", "hard", "../../outside")], "path traversal"),
        ([("d", "sym", "/etc"), ("x", "hard", "d/passwd")], "symlink"),
        ([("dev/sda", "chr", b"")], "device nodes"),
    ],
)
def test_hostile_layers_refused(tmp_path: Path, members: list[tuple[str, str, bytes | str]], why: str) -> None:
    blob = _tar(tmp_path / "layer.tar", members)
    outside = tmp_path / "escape"
    with pytest.raises(HostileLayer, match=why):
        unpack_layer(blob, tmp_path / "root" / "fs")
    assert not outside.exists()
    assert not (tmp_path / "evil").exists()


def test_regular_content(tmp_path: Path) -> None:
    blob = _tar(
        tmp_path / "l.tar",
        [
            ("bin", "dir", b""),
            ("bin/busybox", "file", b"BB"),
            ("bin/sh", "sym", "/bin/busybox"),
            ("bin/ash", "hard", "bin/busybox"),
            ("./run/fifo", "fifo", b""),
        ],
    )
    diff_id = unpack_layer(blob, tmp_path / "fs")
    fs = tmp_path / "fs"
    assert (fs / "bin/busybox").read_bytes() == b"BB"
    assert os.readlink(fs / "bin/sh") == "/bin/busybox"  # absolute symlinks are kept, never followed
    assert os.stat(fs / "bin/ash").st_ino == os.stat(fs / "bin/busybox").st_ino
    assert stat.S_ISFIFO(os.lstat(fs / "run/fifo").st_mode)
    import hashlib

    assert diff_id == "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()


def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    lower = _tar(
        tmp_path / "l1.tar",
        [("keep", "file", b"k"), ("gone", "file", b"g"), ("d", "dir", b""), ("d/old", "file", b"o")],
    )
    upper = _tar(
        tmp_path / "l2.tar",
        [
            (".wh.gone", "file", b""),
            ("d", "dir", b""),
            ("d/.wh..wh..opq", "file", b""),
            ("d/new", "file", b"n"),
        ],
    )
    unpack_layer(lower, tmp_path / "l1")
    unpack_layer(upper, tmp_path / "l2")
    wh = os.lstat(tmp_path / "l2/gone")
    assert stat.S_ISCHR(wh.st_mode) and os.major(wh.st_rdev) == 0 and os.minor(wh.st_rdev) == 0
    assert os.getxattr(tmp_path / "l2/d", OVERLAY_OPAQUE_XATTR) == b"y"
    # and the kernel agrees: mount the two layers and look
    merged, work, up = tmp_path / "m", tmp_path / "w", tmp_path / "u"
    for d in (merged, work, up):
        d.mkdir()
    mount(
        "overlay",
        merged,
        "overlay",
        0,
        f"lowerdir={tmp_path / 'l2'}:{tmp_path / 'l1'},upperdir={up},workdir={work}",
    )
    try:
        assert sorted(os.listdir(merged)) == ["d", "keep"]
        assert os.listdir(merged / "d") == ["new"]
    finally:
        unmount(merged)


def test_snapshot_checks_diff_id(tmp_path: Path) -> None:
    blob = _tar(tmp_path / "l.tar", [("f", "file", b"x")])
    snaps = Snapshotter(tmp_path)
    with pytest.raises(ValueError, match="image config says"):
        snaps.ensure_layer("sha256:" + "1" * 64, "sha256:" + "2" * 64, blob, "")
    assert not snaps.has_layer("sha256:" + "1" * 64)
    assert [p.name for p in snaps.layers.iterdir()] == []


def test_later_entry_replaces_directory_without_following_links(tmp_path: Path) -> None:
    keep = tmp_path / "precious"
    keep.mkdir()
    (keep / "file").write_text("x")
    blob = _tar(tmp_path / "l.tar", [("d", "dir", b""), ("d/link", "sym", str(keep)), ("d", "file", b"now a file")])
    unpack_layer(blob, tmp_path / "fs")
    assert (tmp_path / "fs" / "d").read_bytes() == b"now a file"
    assert (keep / "file").read_text() == "x"  # the link's target survived the directory's removal
