"""Helpers of the REST tests (a module of its own: `import conftest` could find another package's).

A real etcd and an in-process apiserver serving both gRPC and the Kubernetes REST API over mutual TLS,
with a kubeconfig in a temporary folder (never the user's ~/.kube/config) for the real clients: kubectl
(the oldest and newest of the installed 1.27-1.33) and the official Python `kubernetes` client."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from skiff_common.grpcutil import TLSConfig

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

    def kubectl_env(self, version: str, extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        """kubectl with extra environment variables (e.g. EDITOR for `kubectl edit`)."""
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "HOME": str(self.kubeconfig.parent), **extra}
        return subprocess.run([kubectl_binary(version), *args], capture_output=True, text=True, env=env, timeout=60)


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
