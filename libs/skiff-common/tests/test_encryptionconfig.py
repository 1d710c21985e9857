"""skiff up's EncryptionConfiguration: written once (0600), with a 32-byte AES-GCM key, kept on re-runs."""

from __future__ import annotations

import base64
import stat

import yaml
from skiff_common.encryptionconfig import ensure_encryption_config


def test_written_once_private_and_valid(tmp_path) -> None:
    path = ensure_encryption_config(tmp_path / "pki" / "encryption.yaml")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    body = yaml.safe_load(path.read_text())
    providers = body["resources"][0]["providers"]
    assert body["resources"][0]["resources"] == ["secrets"]
    assert len(base64.b64decode(providers[0]["aesgcm"]["keys"][0]["secret"])) == 32
    assert providers[1] == {"identity": {}}
    before = path.read_text()
    ensure_encryption_config(path)
    assert path.read_text() == before  # the key is never replaced: Secrets written under it stay readable
