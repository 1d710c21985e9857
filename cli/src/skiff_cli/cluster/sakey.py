"""The ServiceAccount signing key of a local cluster (kubeadm's pki/sa.key).

The apiserver signs ServiceAccount tokens with it (--service-account-signing-key-file). Kept on disk, so
tokens issued before an apiserver restart (the controllers' per-controller tokens, pods' projected
tokens) stay valid after it, as with kubeadm; without it the apiserver would make a new key at each
start. An EC P-256 key, the only kind skiff-apiserver signs with (ES256).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def ensure_service_account_key(path: Path) -> Path:
    if not path.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
    return path
