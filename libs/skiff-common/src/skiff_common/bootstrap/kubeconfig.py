"""The bootstrap kubeconfig a joining node's kubelet starts with (kubeadm's bootstrap-kubelet.conf):
the cluster's REST address, its CA (pinned by discovery) and the bootstrap token. Written 0600 by
`skiff join`, read by the kubelet's TLS bootstrap; it holds a secret, and is deleted by `skiff reset`."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..pki.files import write


class BootstrapConfigError(ValueError):
    pass


@dataclass(frozen=True)
class BootstrapConfig:
    server: str  # https://host:port (the REST API)
    ca_pem: bytes
    token: str  # <id>.<secret>


def load(path: Path) -> BootstrapConfig:
    try:
        doc = yaml.safe_load(path.read_text())
        cluster = doc["clusters"][0]["cluster"]
        user = doc["users"][0]["user"]
        return BootstrapConfig(
            server=str(cluster["server"]),
            ca_pem=base64.b64decode(cluster["certificate-authority-data"]),
            token=str(user["token"]),
        )
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise BootstrapConfigError(
            f"--bootstrap-kubeconfig: {path} is not a usable bootstrap kubeconfig: {exc}"
        ) from None


def save(path: Path, boot: BootstrapConfig) -> None:
    ca = base64.b64encode(boot.ca_pem).decode()
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default", "cluster": {"server": boot.server, "certificate-authority-data": ca}}],
        "users": [{"name": "tls-bootstrap-token-user", "user": {"token": boot.token}}],
        "contexts": [{"name": "tls-bootstrap", "context": {"cluster": "default", "user": "tls-bootstrap-token-user"}}],
        "current-context": "tls-bootstrap",
    }
    write(path, yaml.safe_dump(doc, sort_keys=False).encode(), 0o600)
