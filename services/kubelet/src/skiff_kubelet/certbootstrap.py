"""TLS bootstrap: a joining kubelet gets its own certificates through CertificateSigningRequests, as
the kubelet's --bootstrap-kubeconfig does.

With a bootstrap kubeconfig (the cluster's REST address, its CA and a bootstrap token, written by
`skiff join`) and no valid client certificate at --tls-cert-file, the kubelet:

1. makes a private key and files a CSR for `system:node:<name>` in `system:nodes` with the
   kube-apiserver-client-kubelet signer, authenticated by the bootstrap token (Bearer);
2. waits until the request is approved (the csrapproving controller) and signed (csrsigning), and
   writes the certificate and key (0600) where --tls-cert-file/--tls-key-file point;
3. with that new identity, files a second CSR for its serving certificate (kubelet-serving signer,
   serverAuth, its name and addresses), unless a valid one is already at --tls-serving-cert-file.

A valid certificate (from the cluster CA, for this node, not within RENEW_BEFORE of expiry) is kept, so
a restart does not bootstrap again; an expiring one is replaced the same way (the kubelet's client
certificate rotation, done at start-up). Denied or Failed requests end the start-up with their message.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import secrets
import ssl
from pathlib import Path
from typing import Any

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from skiff_common.bootstrap import kubeconfig as bootconf
from skiff_common.observability import get_logger
from skiff_common.pki import csr as csrs
from skiff_common.pki import identity_of, node_user
from skiff_common.pki.ca import RENEW_BEFORE
from skiff_common.pki.files import key_pem, load_pair, write
from skiff_common.pki.issue import signed_by
from skiff_common.pki.profiles import NODES_GROUP

log = get_logger("skiff_kubelet.certbootstrap")
CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


class BootstrapError(Exception):
    pass


def usable(cert_file: Path, key_file: Path, ca_pem: bytes, user: str) -> bool:
    loaded = load_pair(cert_file, key_file)
    if loaded is None:
        return False
    cert = loaded[0]
    ca = x509.load_pem_x509_certificate(ca_pem)
    return (
        signed_by(cert, ca)
        and identity_of(cert).user == user
        and cert.not_valid_after_utc - RENEW_BEFORE > dt.datetime.now(dt.UTC)
    )


class _Rest:
    """The few REST calls a CSR takes, authenticated by a token or by a client certificate."""

    def __init__(self, boot: bootconf.BootstrapConfig, *, cert: tuple[Path, Path] | None = None) -> None:
        self.boot = boot
        context = ssl.create_default_context(cadata=boot.ca_pem.decode())
        headers = {}
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        else:
            headers["Authorization"] = f"Bearer {boot.token}"
        self.session = aiohttp.ClientSession(
            base_url=boot.server, headers=headers, connector=aiohttp.TCPConnector(ssl=context)
        )

    async def __aenter__(self) -> _Rest:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.session.request(method, path, json=body) as resp:
            data: dict[str, Any] = await resp.json(content_type=None)
            if resp.status >= 400:
                raise BootstrapError(f"{method} {path}: HTTP {resp.status}: {data.get('message', data)}")
            return data


async def request_certificate(
    rest: _Rest,
    key: ec.EllipticCurvePrivateKey,
    *,
    node_name: str,
    signer: str,
    usages: list[str],
    hosts: list[str],
    requester: tuple[str, list[str]],
    poll: float = 0.2,  # a join waits on this twice: the signer answers in well under a second
    wait: float = 120.0,
) -> bytes:
    """File one CSR and wait for its certificate (PEM)."""
    name = f"node-csr-{node_name[:40]}-{secrets.token_hex(4)}"
    body = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(csrs.make_request(key, node_user(node_name), [NODES_GROUP], hosts)).decode(),
            "signerName": signer,
            "usages": usages,
            # Set by the apiserver from the authenticated user where it knows it (see the CSR strategy).
            "username": requester[0],
            "groups": requester[1],
        },
    }
    await rest.call("POST", CSR_PATH, body)
    log.info("csr_filed", name=name, signer=signer)
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        got = await rest.call("GET", f"{CSR_PATH}/{name}")
        status = got.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Denied", "Failed"):
                raise BootstrapError(f"certificate request {name} {cond['type'].lower()}: {cond.get('message', '')}")
        if status.get("certificate"):
            return base64.b64decode(status["certificate"])
        await asyncio.sleep(poll)
    raise BootstrapError(f"certificate request {name} was not signed within {wait:.0f}s (is it approved?)")


async def ensure_certificates(
    bootstrap_kubeconfig: Path,
    node_name: str,
    client_files: tuple[Path, Path],
    serving_files: tuple[Path, Path] | None,
    hosts: list[str],
) -> None:
    try:
        boot = bootconf.load(bootstrap_kubeconfig)
    except bootconf.BootstrapConfigError as exc:
        raise BootstrapError(str(exc)) from None
    user = node_user(node_name)
    if not usable(*client_files, boot.ca_pem, user):
        token_id = boot.token.split(".", 1)[0]
        key = ec.generate_private_key(ec.SECP256R1())
        async with _Rest(boot) as rest:
            pem = await request_certificate(
                rest,
                key,
                node_name=node_name,
                signer=csrs.KUBELET_CLIENT,
                usages=["digital signature", "client auth"],
                hosts=[],
                requester=(
                    f"system:bootstrap:{token_id}",
                    ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token"],
                ),
            )
        write(client_files[1], key_pem(key), 0o600)
        write(client_files[0], pem, 0o644)
        log.info("client_certificate_issued", user=user)
    if serving_files is not None and not usable(*serving_files, boot.ca_pem, user):
        key = ec.generate_private_key(ec.SECP256R1())
        async with _Rest(boot, cert=client_files) as rest:
            pem = await request_certificate(
                rest,
                key,
                node_name=node_name,
                signer=csrs.KUBELET_SERVING,
                usages=["digital signature", "server auth"],
                hosts=hosts,
                requester=(user, [NODES_GROUP]),
            )
        write(serving_files[1], key_pem(key), 0o600)
        write(serving_files[0], pem, 0o644)
        log.info("serving_certificate_issued", user=user, hosts=hosts)


async def bootstrap_certificates(cfg: Any) -> None:
    """From the kubelet's config: --bootstrap-kubeconfig, --tls-cert-file/--tls-key-file (client) and
    --tls-serving-cert-file/--tls-serving-key-file (serving, optional), named after --node-name and the
    address the kubelet listens on."""
    if not cfg.tls_cert_file or not cfg.tls_key_file:
        raise BootstrapError("--bootstrap-kubeconfig needs --tls-cert-file and --tls-key-file (where to write)")
    serving = None
    if cfg.tls_serving_cert_file and cfg.tls_serving_key_file:
        serving = (Path(cfg.tls_serving_cert_file), Path(cfg.tls_serving_key_file))
    host = cfg.listen.rsplit(":", 1)[0]
    await ensure_certificates(
        Path(cfg.bootstrap_kubeconfig),
        cfg.node_name,
        (Path(cfg.tls_cert_file), Path(cfg.tls_key_file)),
        serving,
        [cfg.node_name, host],
    )
