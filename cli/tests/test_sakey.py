"""`skiff up`'s ServiceAccount signing key: made once (EC P-256, private to root), then kept, so tokens
survive an apiserver restart."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from skiff_cli.cluster.sakey import ensure_service_account_key


def test_key_is_made_once_and_kept(tmp_path: Path) -> None:
    path = ensure_service_account_key(tmp_path / "pki" / "sa.key")
    first = path.read_bytes()
    key = serialization.load_pem_private_key(first, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_service_account_key(path).read_bytes() == first
