"""Content-addressed blob store: `<root>/blobs/sha256/<hex>`.

A blob's name is the sha256 of its bytes, so a blob is written once and never changes. Writes stream to
a temporary file in `<root>/ingest/` (same filesystem, like containerd's ingest directory), hashed as they
arrive, and are renamed into `blobs/` only after the digest (and the size, when the descriptor gave one)
was checked: a crash or a corrupt or partial download is never visible under a digest name. Leftover
ingest files from a crash are removed when the store is opened after an hour (younger ones may belong
to a running pull in another process, e.g. `skiff-runtime import` next to the server).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from skiff_runtime.images.reference import ReferenceError, validate_digest

CHUNK = 1 << 20
STALE_INGEST = 3600.0


class DigestMismatch(ValueError):
    """The bytes do not hash to the digest they were announced with."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / "sha256"
        self._dir.mkdir(parents=True, exist_ok=True)
        self._ingest = root / "ingest"
        self._ingest.mkdir(parents=True, exist_ok=True)
        for stale in self._ingest.iterdir():
            try:
                if stale.stat().st_mtime < time.time() - STALE_INGEST:
                    stale.unlink()
            except FileNotFoundError:
                pass

    def path(self, digest: str) -> Path:
        try:
            validate_digest(digest)
        except ReferenceError as err:
            raise DigestMismatch(str(err)) from None
        algorithm, _, hexpart = digest.partition(":")
        if algorithm != "sha256":
            raise DigestMismatch(f"unsupported digest algorithm {algorithm!r} (only sha256)")
        return self._dir / hexpart

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def put(self, data: bytes, expected: str | None = None) -> str:
        return self.put_stream(iter([data]), expected)

    def put_file(self, stream: BinaryIO, expected: str | None = None) -> str:
        return self.put_stream(iter(lambda: stream.read(CHUNK), b""), expected)

    def put_stream(self, chunks: Iterable[bytes], expected: str | None = None, expected_size: int | None = None) -> str:
        """Store bytes; returns their digest. Raises DigestMismatch if `expected` (or the size) does not
        match; more bytes than `expected_size` stop the download at once."""
        if expected is not None:
            self.path(expected)  # a malformed digest is refused before any byte is read
        digester = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self._ingest, prefix="ingest-")
        written = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    written += len(chunk)
                    if expected_size is not None and written > expected_size:
                        raise DigestMismatch(f"{expected}: more than the announced {expected_size} bytes")
                    digester.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected_size is not None and written != expected_size:
                raise DigestMismatch(f"{expected}: got {written} bytes, the descriptor says {expected_size}")
            digest = f"sha256:{digester.hexdigest()}"
            if expected is not None and digest != expected:
                raise DigestMismatch(f"content has digest {digest}, expected {expected}")
            os.chmod(tmp, 0o444)
            os.replace(tmp, self.path(digest))
            return digest
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def delete(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def digests(self) -> list[str]:
        return [f"sha256:{p.name}" for p in self._dir.iterdir() if not p.name.startswith(".")]

    def usage(self) -> tuple[int, int]:
        """(bytes, inodes) used by blobs."""
        total, count = 0, 0
        for p in self._dir.iterdir():
            total += p.stat().st_size
            count += 1
        return total, count
