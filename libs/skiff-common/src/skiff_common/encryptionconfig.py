"""The EncryptionConfiguration `skiff up` hands the apiserver: Secrets encrypted at rest with AES-GCM
under a key generated once per cluster (0600, beside the PKI), identity kept second so Secrets written
before encryption was on stay readable until rewritten (`skiff-apiserver-rewrite-encrypted`).

Rotation is by hand, as in Kubernetes: add a key first in the file, restart the apiserver, rewrite."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import yaml


def ensure_encryption_config(path: Path) -> Path:
    """Write `path` with a fresh 32-byte key unless it exists; return it."""
    if path.exists():
        return path
    key = base64.b64encode(os.urandom(32)).decode()
    config = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [{"aesgcm": {"keys": [{"name": "key1", "secret": key}]}}, {"identity": {}}],
            }
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(yaml.safe_dump(config))
    os.replace(tmp, path)
    return path
