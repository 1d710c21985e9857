"""Content-addressed blob store: `<root>/blobs/sha256/<hex>`.

A blob's name is the sha256 of its bytes, so a blob is written once and never changes. Writes go to a
temporary file in the same directory and are renamed into place only after the digest was checked:
a crash or a corrupt download never leaves a file under a digest name it does not match.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from skiff_runtime.images.reference import ReferenceError, validate_digest

CHUNK = 1 << 20


class DigestMismatch(ValueError):
    """The bytes do not hash to the digest they were announced with."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._dir = root / "blobs" / "sha256"
        self._dir.mkdir(parents=True, exist_ok=True)

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

    def put_stream(self, chunks: Iterable[bytes], expected: str | None = None) -> str:
        """Store bytes; returns their digest. Raises DigestMismatch if `expected` does not match."""
        digester = hashlib.sha256()
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".ingest-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digester.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
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
