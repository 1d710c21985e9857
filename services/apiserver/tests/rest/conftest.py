"""Fixtures of the REST tests: a real etcd and an in-process apiserver serving both gRPC and the
Kubernetes REST API over mutual TLS, with a kubeconfig in a temporary folder (never ~/.kube/config)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from skiff_common.tls import ensure_cluster_pki

sys.path.insert(0, str(Path(__file__).parent))

from rest_testlib import Rest, write_kubeconfig


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
