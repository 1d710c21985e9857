"""A stand-in for the `nginx` image, so the Kubernetes docs' manifests that name `image: nginx` run unchanged.

Nothing is pulled from the internet here, so the test pushes to the cluster's local registry (mirrored as
docker.io) an image named `library/nginx`: the cluster's own busybox image with another default command,
busybox's httpd on port 80 serving the pod's hostname at `/`. It stops the way a web server behind a
Service should (and as nginx does on SIGQUIT): on SIGTERM it keeps serving for a few seconds while the
endpoint leaves every node's rules, then exits. That is the pod's own part of a clean rolling update; the
test then checks the Service's part, that no request fails.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from skiff_cli.cluster import registry
from skiff_cli.cluster.layout import ClusterLayout

DRAIN_SECONDS = 5
SCRIPT = (
    "mkdir -p /usr/share/nginx/html && hostname > /usr/share/nginx/html/index.html; "
    "httpd -f -p 80 -h /usr/share/nginx/html & pid=$!; "
    f"trap 'sleep {DRAIN_SECONDS}; kill $pid; exit 0' TERM; wait"
)


def _blob(root: Path, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def _read(root: Path, digest: str) -> dict:  # type: ignore[type-arg]
    return dict(json.loads((root / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()))


def build(busybox_layout: Path, out: Path) -> Path:
    """An OCI layout of busybox's layer under the nginx stand-in's config."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(busybox_layout, out)
    index = json.loads((out / "index.json").read_text())
    desc = index["manifests"][0]
    manifest = _read(out, desc["digest"])
    config = _read(out, manifest["config"]["digest"])
    config["config"] = config["config"] | {"Cmd": ["sh", "-c", SCRIPT], "ExposedPorts": {"80/tcp": {}}}
    manifest["config"] = manifest["config"] | _blob(out, json.dumps(config, sort_keys=True).encode())
    desc.update(_blob(out, json.dumps(manifest, sort_keys=True).encode()))
    desc["annotations"] = {"org.opencontainers.image.ref.name": "docker.io/library/nginx:latest"}
    (out / "index.json").write_text(json.dumps(index))
    return out


def push(layout: ClusterLayout, tags: tuple[str, ...] = ("latest",)) -> None:
    """Build the stand-in from the cluster's busybox image and push it as library/nginx:<tag>."""
    image = build(layout.state_dir / "images" / "busybox", layout.state_dir / "images" / "nginx-standin")
    for tag in tags:
        registry.push_image(image, f"127.0.0.1:{layout.registry_port}", f"library/nginx:{tag}")
