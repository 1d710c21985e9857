"""Image records: what the runtime knows about each image, one JSON file per image ID.

An image's ID is the digest of its config blob (like Docker and containerd's CRI), so the same image
imported under two names is ONE record with two `repo_tags`. A tag points at exactly one image: adding
`busybox:latest` to a new image takes it away from the old one (which then stays, untagged, until
RemoveImage or garbage collection, as Docker leaves a "dangling" image).

    (absent) --import/pull--> PRESENT --tag moves away--> PRESENT (untagged) --remove--> (absent)
                                 \\______________________remove___________________________/
    remove is refused while a container uses the image (the caller checks; see ImageService).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skiff_runtime.images.reference import ReferenceError, is_image_id, parse


@dataclass
class ImageConfig:
    """The parts of the OCI image config the runtime uses to build a container."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    working_dir: str = ""
    user: str = ""
    stop_signal: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_blob(cls, blob: dict[str, Any]) -> ImageConfig:
        cfg = blob.get("config") or {}
        return cls(
            entrypoint=list(cfg.get("Entrypoint") or []),
            cmd=list(cfg.get("Cmd") or []),
            env=list(cfg.get("Env") or []),
            working_dir=cfg.get("WorkingDir") or "",
            user=cfg.get("User") or "",
            stop_signal=cfg.get("StopSignal") or "",
            labels=dict(cfg.get("Labels") or {}),
        )


@dataclass
class LayerRecord:
    digest: str
    media_type: str
    size: int
    diff_id: str
    chain_id: str


@dataclass
class ImageRecord:
    id: str  # sha256 of the config blob
    manifest_digest: str
    repo_tags: list[str]
    repo_digests: list[str]
    layers: list[LayerRecord]
    config: ImageConfig
    size: int  # compressed layers + config + manifest, like `crictl images`
    pinned: bool = False

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageRecord:
        return cls(
            id=data["id"],
            manifest_digest=data["manifest_digest"],
            repo_tags=list(data["repo_tags"]),
            repo_digests=list(data["repo_digests"]),
            layers=[LayerRecord(**x) for x in data["layers"]],
            config=ImageConfig(**data["config"]),
            size=int(data["size"]),
            pinned=bool(data.get("pinned")),
        )

    @property
    def chain_ids(self) -> list[str]:
        return [layer.chain_id for layer in self.layers]


class ImageStore:
    """Thread-safe (the importer CLI and the server may share it) map of image ID -> record."""

    def __init__(self, root: Path) -> None:
        self._dir = root / "images"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()

    def _path(self, image_id: str) -> Path:
        return self._dir / f"{image_id.removeprefix('sha256:')}.json"

    def _write(self, record: ImageRecord) -> None:
        tmp = self._path(record.id).with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=1, sort_keys=True))
        os.replace(tmp, self._path(record.id))

    def list(self) -> list[ImageRecord]:
        with self._lock:
            return [ImageRecord.from_json(json.loads(p.read_text())) for p in sorted(self._dir.glob("*.json"))]

    def get_by_id(self, image_id: str) -> ImageRecord | None:
        path = self._path(image_id if image_id.startswith("sha256:") else f"sha256:{image_id}")
        with self._lock:
            return ImageRecord.from_json(json.loads(path.read_text())) if path.exists() else None

    def resolve(self, text: str) -> ImageRecord | None:
        """Find an image by ID (`sha256:<hex>` or bare hex), tag or digest reference.

        Raises ReferenceError if `text` is malformed."""
        if is_image_id(text):
            return self.get_by_id(text)
        ref = parse(text)
        with self._lock:
            for record in self.list():
                if ref.digest:
                    if f"{ref.name}@{ref.digest}" in record.repo_digests:
                        return record
                elif str(ref) in record.repo_tags:
                    return record
        return None

    def add(self, record: ImageRecord) -> ImageRecord:
        """Insert or merge (same ID: union of names); moves tags away from other images."""
        with self._lock:
            for other in self.list():
                if other.id == record.id:
                    record.repo_tags = sorted(set(other.repo_tags) | set(record.repo_tags))
                    record.repo_digests = sorted(set(other.repo_digests) | set(record.repo_digests))
                    continue
                stolen = set(other.repo_tags) & set(record.repo_tags)
                if stolen:
                    other.repo_tags = [t for t in other.repo_tags if t not in stolen]
                    self._write(other)
            self._write(record)
            return record

    def remove(self, image_id: str) -> None:
        with self._lock:
            self._path(image_id).unlink(missing_ok=True)


def check_reference(text: str) -> str | None:
    """None if `text` is an ID or a valid reference, else the reason it is not."""
    if is_image_id(text):
        return None
    try:
        parse(text)
    except ReferenceError as err:
        return str(err)
    return None
