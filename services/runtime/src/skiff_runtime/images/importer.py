"""Import images from an OCI image layout (directory or tarball) or a `docker save` tarball.

Every blob is copied into the content store with its digest verified, then every layer is unpacked once
into a snapshot (its diff_id verified), and only then the image record is written: an image that is
listed is an image that can run. A tarball is read member by member into a scratch directory; only
regular files and directories with clean relative names are accepted from it.

Multi-platform indexes are resolved to the host's platform (linux/<GOARCH of this machine>).
"""

from __future__ import annotations

import json
import platform
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skiff_runtime.images.blobs import BlobStore
from skiff_runtime.images.reference import normalize, parse
from skiff_runtime.images.snapshots import Snapshotter, chain_ids
from skiff_runtime.images.store import ImageConfig, ImageRecord, ImageStore, LayerRecord
from skiff_runtime.images.unpack import HostileLayer, _clean_name

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name"
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


class ImportError_(ValueError):
    """The archive is not an importable image; the message says what is wrong."""


@dataclass
class Importer:
    blobs: BlobStore
    snapshots: Snapshotter
    images: ImageStore

    def import_path(self, source: Path, ref: str | None = None) -> ImageRecord:
        """Import `source` (layout dir, OCI tar or docker-save tar); tag it `ref` if given."""
        if source.is_dir():
            return self._import_dir(source, ref)
        if not source.is_file():
            raise ImportError_(f"{source}: no such file or directory")
        with tempfile.TemporaryDirectory(prefix="skiff-import-") as tmp:
            _extract_plain_tar(source, Path(tmp))
            return self._import_dir(Path(tmp), ref)

    def _import_dir(self, layout: Path, ref: str | None) -> ImageRecord:
        tag = normalize(ref) if ref else None
        if (layout / "index.json").is_file():
            return self._import_oci(layout, tag)
        if (layout / "manifest.json").is_file():
            return self._import_docker(layout, tag)
        raise ImportError_(f"{layout}: neither an OCI image layout (index.json) nor a docker-save archive")

    # -- OCI layout -------------------------------------------------------------------------------

    def _layout_blob(self, layout: Path, digest: str) -> Path:
        self.blobs.path(digest)  # validates the digest's form before it becomes a path
        algorithm, _, hexpart = digest.partition(":")
        path = layout / "blobs" / algorithm / hexpart
        if not path.is_file():
            raise ImportError_(f"blob {digest} is missing from the layout")
        return path

    def _copy_blob(self, layout: Path, digest: str) -> str:
        if not self.blobs.exists(digest):
            with open(self._layout_blob(layout, digest), "rb") as src:
                self.blobs.put_file(src, expected=digest)
        return digest

    def _import_oci(self, layout: Path, tag: str | None) -> ImageRecord:
        marker = layout / "oci-layout"
        if marker.is_file() and json.loads(marker.read_text()).get("imageLayoutVersion") != "1.0.0":
            raise ImportError_("unsupported imageLayoutVersion in oci-layout (want 1.0.0)")
        index = json.loads((layout / "index.json").read_text())
        manifest_desc = self._pick_manifest(layout, index.get("manifests") or [], tag)
        ref_name = (manifest_desc.get("annotations") or {}).get(REF_NAME_ANNOTATION, "")
        if tag is None and ref_name:
            # the annotation is either a full reference or (more often) just a tag
            tag = normalize(ref_name) if ("/" in ref_name or ":" in ref_name) else None
        manifest_digest = self._copy_blob(layout, manifest_desc["digest"])
        manifest = json.loads(self.blobs.read(manifest_digest))
        config_digest = self._copy_blob(layout, manifest["config"]["digest"])
        for layer in manifest.get("layers") or []:
            self._copy_blob(layout, layer["digest"])
        repo_digests = []
        if tag:
            repo_digests.append(f"{parse(tag).name}@{manifest_digest}")
        return self.finish(manifest_digest, manifest, config_digest, tag, repo_digests)

    def _pick_manifest(self, layout: Path, descs: list[dict[str, Any]], tag: str | None) -> dict[str, Any]:
        if not descs:
            raise ImportError_("index.json lists no manifests")
        if tag and len(descs) > 1:
            named = [d for d in descs if _ref_matches((d.get("annotations") or {}).get(REF_NAME_ANNOTATION), tag)]
            descs = named or descs
        want_arch = _ARCH.get(platform.machine(), platform.machine())
        on_platform = [d for d in descs if (d.get("platform") or {}).get("architecture", want_arch) == want_arch]
        if not on_platform:
            raise ImportError_(f"no manifest for linux/{want_arch} in the index")
        desc = on_platform[0]
        if desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
            self._copy_blob(layout, desc["digest"])
            nested = json.loads(self.blobs.read(desc["digest"]))
            return self._pick_manifest(layout, nested.get("manifests") or [], None)
        return desc

    # -- docker save ------------------------------------------------------------------------------

    def _import_docker(self, root: Path, tag: str | None) -> ImageRecord:
        entries = json.loads((root / "manifest.json").read_text())
        if not entries:
            raise ImportError_("manifest.json is empty")
        entry = entries[0]
        with open(root / _clean_name(entry["Config"]), "rb") as f:
            config_digest = self.blobs.put_file(f)
        layers = []
        for name in entry.get("Layers") or []:
            with open(root / _clean_name(name), "rb") as f:
                digest = self.blobs.put_file(f)
            layers.append({"mediaType": DOCKER_LAYER, "digest": digest, "size": self.blobs.size(digest)})
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {
                "mediaType": DOCKER_CONFIG,
                "digest": config_digest,
                "size": self.blobs.size(config_digest),
            },
            "layers": layers,
        }
        manifest_digest = self.blobs.put(json.dumps(manifest, separators=(",", ":")).encode())
        if tag is None and entry.get("RepoTags"):
            tag = normalize(entry["RepoTags"][0])
        # A docker-save archive carries no registry digest, so the image gets no repo_digests.
        return self.finish(manifest_digest, manifest, config_digest, tag, [])

    # -- common -----------------------------------------------------------------------------------

    def finish(
        self,
        manifest_digest: str,
        manifest: dict[str, Any],
        config_digest: str,
        tag: str | None,
        repo_digests: list[str],
    ) -> ImageRecord:
        config_blob = json.loads(self.blobs.read(config_digest))
        diff_ids = list((config_blob.get("rootfs") or {}).get("diff_ids") or [])
        layer_descs = manifest.get("layers") or []
        if len(diff_ids) != len(layer_descs):
            raise ImportError_(
                f"image config lists {len(diff_ids)} diff_ids but the manifest {len(layer_descs)} layers"
            )
        chains = chain_ids(diff_ids)
        layers: list[LayerRecord] = []
        for desc, diff_id, chain in zip(layer_descs, diff_ids, chains, strict=True):
            try:
                self.snapshots.ensure_layer(chain, diff_id, self.blobs.path(desc["digest"]), desc.get("mediaType", ""))
            except HostileLayer as err:
                raise ImportError_(f"layer {desc['digest']}: {err}") from None
            layers.append(
                LayerRecord(
                    digest=desc["digest"],
                    media_type=desc.get("mediaType", ""),
                    size=int(desc.get("size", 0)),
                    diff_id=diff_id,
                    chain_id=chain,
                )
            )
        size = sum(layer.size for layer in layers) + self.blobs.size(config_digest) + self.blobs.size(manifest_digest)
        record = ImageRecord(
            id=config_digest,
            manifest_digest=manifest_digest,
            repo_tags=[tag] if tag else [],
            repo_digests=repo_digests,
            layers=layers,
            config=ImageConfig.from_blob(config_blob),
            size=size,
        )
        return self.images.add(record)


def pick_platform(descs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first descriptor for linux/<this machine's architecture> (or without a platform)."""
    want_arch = _ARCH.get(platform.machine(), platform.machine())
    for desc in descs:
        plat = desc.get("platform") or {}
        if plat.get("architecture", want_arch) == want_arch and plat.get("os", "linux") == "linux":
            return desc
    raise ImportError_(f"no manifest for linux/{want_arch} in the index")


def _ref_matches(annotation: str | None, tag: str) -> bool:
    if not annotation:
        return False
    if ":" not in annotation and "/" not in annotation:
        return tag.endswith(f":{annotation}")
    return normalize(annotation) == tag


def _extract_plain_tar(archive: Path, target: Path) -> None:
    """Unpack an image archive, accepting only regular files and directories with clean names."""
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                rel = _clean_name(member.name)
                path = target / rel
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                elif member.isreg():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    src = tar.extractfile(member)
                    assert src is not None
                    with open(path, "wb") as out:
                        shutil.copyfileobj(src, out, 1 << 20)
                elif member.issym() or member.islnk():
                    # docker save links identical layers; resolve by copying the (already extracted) target
                    source = (
                        (path.parent / member.linkname) if member.issym() else target / _clean_name(member.linkname)
                    )
                    resolved = source.resolve()
                    if not resolved.is_relative_to(target.resolve()) or not resolved.is_file():
                        raise ImportError_(f"archive member {member.name!r} links outside the archive")
                    path.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(resolved, path)
                else:
                    raise ImportError_(f"archive member {member.name!r} has unsupported type {member.type!r}")
    except HostileLayer as err:
        raise ImportError_(f"{archive}: {err}") from None
    except tarfile.TarError as err:
        raise ImportError_(f"{archive}: not a readable tar archive: {err}") from None
