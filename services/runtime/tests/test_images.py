"""Importing the busybox test image (layout dir, OCI tarball), tags, digests and the overlay rootfs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from skiff_runtime.images.blobs import BlobStore
from skiff_runtime.images.importer import Importer, ImportError_
from skiff_runtime.images.snapshots import Snapshotter
from skiff_runtime.images.store import ImageStore

# unpacking sets owners (lchown), creates whiteout devices (mknod) and mounts overlays: root only
pytestmark = pytest.mark.root


def _importer(root: Path) -> Importer:
    return Importer(BlobStore(root / "content"), Snapshotter(root), ImageStore(root))


def test_import_layout_dir(tmp_path: Path, busybox_layout: Path) -> None:
    imp = _importer(tmp_path)
    record = imp.import_path(busybox_layout, "busybox:latest")
    assert record.repo_tags == ["docker.io/library/busybox:latest"]
    manifest = json.loads((busybox_layout / "index.json").read_text())["manifests"][0]["digest"]
    assert record.repo_digests == [f"docker.io/library/busybox@{manifest}"]
    assert record.config.cmd == ["sh"] and record.config.env[0].startswith("PATH=")
    assert imp.images.resolve("busybox") == record
    assert imp.images.resolve(record.id) == record
    assert imp.images.resolve(f"busybox@{manifest}") == record
    assert imp.images.resolve("busybox:other") is None
    layer = imp.snapshots.layer_dir(record.chain_ids[0])
    assert os.readlink(layer / "bin" / "sh") == "busybox"
    # importing again is a no-op on the layers (unpacked ONCE)
    before = os.stat(layer / "bin" / "busybox").st_ino
    imp.import_path(busybox_layout, "busybox:latest")
    assert os.stat(layer / "bin" / "busybox").st_ino == before
    assert len(imp.images.list()) == 1


def test_import_tarball_uses_annotation_name(tmp_path: Path, busybox_layout: Path) -> None:
    imp = _importer(tmp_path)
    record = imp.import_path(Path(str(busybox_layout) + ".tar"))
    assert record.repo_tags == ["docker.io/library/busybox:latest"]


def test_tag_moves_between_images(tmp_path: Path, busybox_layout: Path) -> None:
    imp = _importer(tmp_path)
    first = imp.import_path(busybox_layout, "localhost:5000/t:1")
    imp.import_path(busybox_layout, "localhost:5000/t:2")
    got = imp.images.get_by_id(first.id)
    assert got is not None and got.repo_tags == ["localhost:5000/t:1", "localhost:5000/t:2"]


def test_corrupt_blob_refused(tmp_path: Path, busybox_layout: Path) -> None:
    bad = tmp_path / "bad"
    subprocess.run(["cp", "-a", str(busybox_layout), str(bad)], check=True)
    index = json.loads((bad / "index.json").read_text())
    manifest = json.loads((bad / "blobs/sha256" / index["manifests"][0]["digest"].split(":")[1]).read_text())
    layer = bad / "blobs/sha256" / manifest["layers"][0]["digest"].split(":")[1]
    os.chmod(layer, 0o644)
    layer.write_bytes(layer.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ValueError, match="digest"):
        _importer(tmp_path / "store").import_path(bad, "busybox")
    assert ImageStore(tmp_path / "store").list() == []


def test_not_an_image(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportError_, match="neither an OCI image layout"):
        _importer(tmp_path).import_path(tmp_path / "empty")


def test_overlay_rootfs(tmp_path: Path, busybox_layout: Path) -> None:
    imp = _importer(tmp_path)
    record = imp.import_path(busybox_layout, "busybox")
    target = tmp_path / "bundle" / "rootfs"
    imp.snapshots.mount_rootfs("c1", record.chain_ids, target)
    try:
        assert (target / "bin" / "busybox").is_file()
        (target / "written").write_text("x")
        assert (imp.snapshots.active / "c1" / "upper" / "written").exists()
        assert not (imp.snapshots.layer_dir(record.chain_ids[0]) / "written").exists()
    finally:
        imp.snapshots.release_rootfs("c1", target)
    assert not os.path.ismount(target)
    assert not (imp.snapshots.active / "c1").exists()
