#!/usr/bin/env python3
"""Build a tiny, reproducible OCI image layout of Debian's busybox-static, with no network access.

    python3 scripts/images/build-busybox-image.py OUT_DIR [--tar OUT.tar] [--busybox /bin/busybox]
    skiff-runtime import --ref busybox:latest OUT_DIR      # -> docker.io/library/busybox:latest

The image has one gzip layer: /bin/busybox plus a relative symlink per applet (`busybox --list`: sh, ps,
hostname, cat, echo, sleep, ls, id, env, wget, nc, ...), the usual empty top-level directories and a
minimal /etc/passwd and /etc/group. Config: Cmd ["sh"], Env PATH. Every timestamp is fixed
(SOURCE_DATE_EPOCH, default 0), owners are 0:0, entries are sorted and the gzip header has no name or
time, so the same busybox binary always yields the same digests. The layout's index.json names the image
`docker.io/library/busybox:latest` (annotation org.opencontainers.image.ref.name).

Needs only the Python standard library and `apt-get install busybox-static`.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
from pathlib import Path

ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DIRS = {
    "bin": 0o755,
    "dev": 0o755,
    "etc": 0o755,
    "home": 0o755,
    "proc": 0o555,
    "root": 0o700,
    "sys": 0o555,
    "tmp": 0o1777,
    "usr": 0o755,
    "var": 0o755,
}
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnogroup:x:65534:\n"


def _info(name: str, mtime: int, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mtime, info.uid, info.gid, info.uname, info.gname = mtime, 0, 0, "", ""
    for key, value in kw.items():
        setattr(info, key, value)
    return info


def build_layer(busybox: Path, mtime: int) -> bytes:
    applets = sorted(
        set(subprocess.run([str(busybox), "--list"], check=True, capture_output=True, text=True).stdout.split())
        - {"busybox"}
    )
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    for name, mode in DIRS.items():
        entries.append((_info(name, mtime, type=tarfile.DIRTYPE, mode=mode), None))
    binary = busybox.read_bytes()
    entries.append((_info("bin/busybox", mtime, size=len(binary), mode=0o755), binary))
    for applet in applets:
        entries.append((_info(f"bin/{applet}", mtime, type=tarfile.SYMTYPE, linkname="busybox", mode=0o777), None))
    for name, text in (("etc/passwd", PASSWD), ("etc/group", GROUP)):
        data = text.encode()
        entries.append((_info(name, mtime, size=len(data), mode=0o644), data))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda e: e[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _blob(out: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (out / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (out / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build(out: Path, busybox: Path, mtime: int) -> str:
    layer_tar = build_layer(busybox, mtime)
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=9) as zf:
        zf.write(layer_tar)
    layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **_blob(out, gz.getvalue())}
    created = "1970-01-01T00:00:00Z" if mtime == 0 else None
    config = {
        "architecture": ARCH,
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"]},
        "history": [{"created_by": "skiff build-busybox-image.py"}],
    }
    if created:
        config["created"] = created
    config_desc = {"mediaType": "application/vnd.oci.image.config.v1+json", **_blob(out, _json(config))}
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer],
    }
    manifest_desc = {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        **_blob(out, _json(manifest)),
        "platform": {"architecture": ARCH, "os": "linux"},
        "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/busybox:latest"},
    }
    (out / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (out / "index.json").write_bytes(
        _json(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [manifest_desc],
            }
        )
    )
    return str(manifest_desc["digest"])


def write_tar(layout: Path, target: Path, mtime: int) -> None:
    with tarfile.open(target, "w", format=tarfile.USTAR_FORMAT) as tar:
        for path in sorted(layout.rglob("*")):
            rel = path.relative_to(layout).as_posix()
            info = _info(rel, mtime, mode=0o755 if path.is_dir() else 0o644)
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = path.stat().st_size
                with open(path, "rb") as f:
                    tar.addfile(info, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output directory (created; must be empty or absent)")
    parser.add_argument("--tar", type=Path, help="also write the layout as a tarball here")
    parser.add_argument("--busybox", type=Path, default=Path("/bin/busybox"), help="a static busybox binary")
    args = parser.parse_args()
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    if not args.busybox.is_file():
        sys.exit(f"{args.busybox}: not found; apt-get install busybox-static")
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"{args.out}: not empty")
    args.out.mkdir(parents=True, exist_ok=True)
    digest = build(args.out, args.busybox, mtime)
    if args.tar:
        write_tar(args.out, args.tar, mtime)
    print(f"{args.out}: docker.io/library/busybox:latest manifest {digest}")


if __name__ == "__main__":
    main()
