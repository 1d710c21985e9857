"""Where the CLI finds its cluster: a small kubeconfig.

`skiff up` writes the file; every other command reads it. The path is $SKIFFCONFIG (like KUBECONFIG), else
~/.skiff/config.yaml. It holds the apiserver address and the client's TLS files, nothing else: the
credentials themselves stay in their own 0600 files and are never copied into the config.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml
from skiff_common.grpcutil import TLSConfig


@dataclass
class ClientConfig:
    server: str = "127.0.0.1:6443"
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    namespace: str = "default"

    @property
    def tls(self) -> TLSConfig | None:
        if not self.ca_file:
            return None
        return TLSConfig(ca_file=self.ca_file, cert_file=self.cert_file, key_file=self.key_file)


def config_path() -> Path:
    override = os.environ.get("SKIFFCONFIG")
    return Path(override) if override else Path.home() / ".skiff" / "config.yaml"


def load_client_config(path: Path | None = None) -> ClientConfig:
    path = path or config_path()
    if not path.exists():
        return ClientConfig()
    data = yaml.safe_load(path.read_text()) or {}
    known = set(ClientConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise SystemExit(f"error: {path}: unknown keys {', '.join(unknown)}")
    return ClientConfig(**data)


def save_client_config(config: ClientConfig, path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(asdict(config), sort_keys=False))
    return path
