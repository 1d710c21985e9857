"""A joined node's proxy identity (`system:kube-proxy`), issued through a CertificateSigningRequest.

kubeadm runs kube-proxy as a DaemonSet with the kube-system/kube-proxy ServiceAccount's token; Skiff's
proxy is a node process that dials the apiserver with a client certificate, so a joined node gets the
same identity the control-plane node's proxy has (`system:kube-proxy`, bound to system:node-proxier)
the way any client identity is issued in Kubernetes: the node makes its own key, a CSR for the
`kubernetes.io/kube-apiserver-client` signer is filed, an administrator approves it (`kubectl
certificate approve`: here `skiff up --nodes`, which holds the admin credentials), and the csrsigning
controller signs it. The key never leaves the node's folder, and no control-plane key is copied.
"""

from __future__ import annotations

import asyncio
import secrets
import time

from cryptography.hazmat.primitives.asymmetric import ec
from skiff.api.certificates.v1 import certificates_pb2
from skiff_client.api import ApiClient
from skiff_common.grpcutil import TLSConfig
from skiff_common.pki import csr as csrs
from skiff_common.pki.files import key_pem, write

from ..clientconfig import ClientConfig
from .layout import ClusterLayout

PROXY_USER = "system:kube-proxy"


class ProxyIdentityError(Exception):
    pass


def proxy_tls(layout: ClusterLayout) -> TLSConfig:
    pki = layout.pki_dir
    return TLSConfig(str(pki / "ca.crt"), str(pki / "proxy.crt"), str(pki / "proxy.key"))


async def issue(admin: ClientConfig, layout: ClusterLayout, *, wait: float = 60.0) -> TLSConfig:
    """File, approve and collect the CSR; write proxy.crt/proxy.key (0600) in the node's pki folder."""
    tls = proxy_tls(layout)
    key = ec.generate_private_key(ec.SECP256R1())
    name = f"kube-proxy-{layout.node_name[:40]}-{secrets.token_hex(4)}"
    request = certificates_pb2.CertificateSigningRequest()
    request.metadata.name = name
    request.spec.request = csrs.make_request(key, PROXY_USER, [])
    request.spec.signer_name = csrs.APISERVER_CLIENT
    request.spec.usages.extend(["digital signature", "client auth"])
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        await client.create(request)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        condition = {
            "type": "Approved",
            "status": "True",
            "reason": "SkiffUpApprove",
            "message": f"the proxy of node {layout.node_name}, approved by skiff up",
            "lastUpdateTime": stamp,
            "lastTransitionTime": stamp,
        }
        await client.patch(
            certificates_pb2.CertificateSigningRequest, name, "", {"status": {"conditions": [condition]}},
            subresource="approval",
        )  # fmt: skip
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            got = await client.get(certificates_pb2.CertificateSigningRequest, name)
            for cond in got.status.conditions:
                if cond.type in ("Denied", "Failed"):
                    raise ProxyIdentityError(f"certificate request {name} {cond.type.lower()}: {cond.message}")
            if got.status.certificate:
                write(layout.pki_dir / "proxy.key", key_pem(key), 0o600)
                write(layout.pki_dir / "proxy.crt", bytes(got.status.certificate), 0o644)
                return tls
            await asyncio.sleep(0.1)
    finally:
        await client.close()
    raise ProxyIdentityError(f"certificate request {name} was not signed within {wait:.0f}s")
