"""What a bootstrap token may do (pure logic): kubeadm's system:node-bootstrapper (CSRs) and
kubeadm:kubeadm-certs (get the one Secret holding the encrypted shared keys), nothing else."""

from __future__ import annotations

import pytest
from skiff_apiserver.bootstrap_auth import allowed

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
CERTS = "/api/v1/namespaces/kube-system/secrets/kubeadm-certs"


@pytest.mark.parametrize(
    ("method", "path", "ok"),
    [
        ("POST", CSRS, True),
        ("GET", f"{CSRS}/node-csr-abc", True),
        ("DELETE", f"{CSRS}/node-csr-abc", False),
        ("GET", CERTS, True),
        ("PUT", CERTS, False),
        ("DELETE", CERTS, False),
        ("GET", "/api/v1/namespaces/kube-system/secrets", False),
        ("GET", "/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef", False),
        ("GET", "/api/v1/namespaces/default/secrets/kubeadm-certs", False),
    ],
)
def test_bootstrap_token_rules(method: str, path: str, ok: bool) -> None:
    assert allowed(method, path) is ok
