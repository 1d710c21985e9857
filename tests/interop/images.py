"""Offline test images for the interop tests and the runtime benchmark.

``scripts/images/build-busybox-image.py`` makes the busybox image (one layer, Cmd ["sh"]). For
containerd we also need a *sandbox* ("pause") image, because its CRI plugin starts one container per
pod from ``sandbox_image`` and the real pause image cannot be pulled offline. ``derive_image`` re-uses
the busybox layer and writes a new config (Cmd: sleep for ~68 years) + manifest + index under another
name: same bytes, new digests, nothing downloaded.

Layouts are written as tarballs too (``write_tar``) because ``ctr images import`` wants an archive.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO / "scripts" / "images" / "build-busybox-image.py"
REF_ANNOTATION = "org.opencontainers.image.ref.name"
SLEEP_FOREVER = ["sleep", "2147483647"]  # busybox sleep has no "infinity"


def build_busybox(out: Path) -> Path:
    """OCI layout of Debian's busybox-static, named docker.io/library/busybox:latest."""
    subprocess.run([sys.executable, str(BUILD_SCRIPT), str(out)], check=True, capture_output=True)
    return out


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _put(layout: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (layout / "blobs" / "sha256" / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def _get(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.split(":", 1)[1]).read_bytes()


def derive_image(base: Path, out: Path, *, ref: str, cmd: list[str]) -> Path:
    """Copy the layout ``base`` to ``out`` with the image config's Cmd set to ``cmd`` and named ``ref``
    (a full reference such as ``registry.skiff.test/interop/pause:1``)."""
    shutil.copytree(base, out)
    index = json.loads((out / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = json.loads(_get(out, desc["digest"]))
    config = json.loads(_get(out, manifest["config"]["digest"]))
    config["config"]["Cmd"] = cmd
    config["config"].pop("Entrypoint", None)
    manifest["config"]["digest"], manifest["config"]["size"] = _put(out, _canonical(config))
    desc["digest"], desc["size"] = _put(out, _canonical(manifest))
    desc.setdefault("annotations", {})[REF_ANNOTATION] = ref
    (out / "index.json").write_bytes(_canonical(index))
    return out


def write_tar(layout: Path, target: Path) -> Path:
    with tarfile.open(target, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=path.relative_to(layout).as_posix(), recursive=False)
    return target
