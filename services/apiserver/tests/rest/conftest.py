"""A real etcd and an in-process apiserver serving both gRPC and the Kubernetes REST API over mutual TLS,
with a kubeconfig in a temporary folder (never the user's ~/.kube/config) for the real clients: kubectl
(the oldest and newest of the installed 1.27-1.33) and the official Python `kubernetes` client."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from skiff_common.grpcutil import TLSConfig
from skiff_common.tls import ensure_cluster_pki

# The versioned binaries behind /usr/bin/kubectl (Google's kubectl dispatcher picks one by the server's
# version); the tests name them directly to pin the client version.
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_VERSIONS = ("1.27", "1.33")


def kubectl_binary(version: str) -> str:
    path = KUBECTL_DIR / f"kubectl.{version}"
    if not path.exists():
        pytest.skip(f"kubectl {version} is not installed ({path})")
    return str(path)


@dataclass
class Rest:
    url: str
    port: int
    grpc_target: str
    kubeconfig: Path
    admin: TLSConfig
    app: object

    def kubectl(
        self, version: str, *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent)}
        result = subprocess.run(
            [kubectl_binary(version), *args], capture_output=True, text=True, env=env, input=input, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result


def write_kubeconfig(path: Path, server: str, tls: TLSConfig) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "skiff", "cluster": {"server": server, "certificate-authority": tls.ca_file}}],
        "users": [{"name": "skiff-admin", "user": {"client-certificate": tls.cert_file, "client-key": tls.key_file}}],
        "contexts": [{"name": "skiff", "context": {"cluster": "skiff", "user": "skiff-admin"}}],
        "current-context": "skiff",
    }
    path.write_text(yaml.safe_dump(config))


@pytest.fixture
async def rest(server_factory: object, tmp_path: Path) -> AsyncIterator[Rest]:
    pki = ensure_cluster_pki(tmp_path / "pki", components=["apiserver", "admin"])
    server_tls = pki["apiserver"]
    server = await server_factory(  # type: ignore[operator]
        secure_port=0,
        tls_cert_file=server_tls.cert_file,
        tls_key_file=server_tls.key_file,
        client_ca_file=server_tls.ca_file,
        bookmark_interval=0.3,
    )
    port = server.app.rest_port
    url = f"https://127.0.0.1:{port}"
    kubeconfig = tmp_path / "kube" / "config"
    kubeconfig.parent.mkdir()
    write_kubeconfig(kubeconfig, url, pki["admin"])
    yield Rest(url, port, server.target, kubeconfig, pki["admin"], server.app)
