"""A TLS apiserver with Node,RBAC on real etcd, and client certificates carrying Kubernetes' identities
(CN = user, O = groups), signed by the same CA -- what the cluster PKI issues each component."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from apiserver_etcd import make_config, start_server
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_common.grpcutil import TLSConfig, create_channel
from skiff_common.tls import ensure_cluster_pki


def issue(pki: Path, file_name: str, cn: str, groups: tuple[str, ...] = ()) -> TLSConfig:
    """A client certificate for user `cn` in `groups`, signed by the CA in `pki`."""
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key: Any = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    name = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, g) for g in groups]
    name.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = pki / f"{file_name}.crt", pki / f"{file_name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return TLSConfig(ca_file=str(pki / "ca.crt"), cert_file=str(cert_path), key_file=str(key_path))


@dataclass
class SecureCluster:
    """One TLS apiserver (gRPC and REST) with authorization on; `as_user` dials it as anyone."""

    pki: Path
    server: Any
    channels: list[grpc.aio.Channel] = field(default_factory=list)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.server.app.port}"

    @property
    def rest_url(self) -> str:
        return f"https://127.0.0.1:{self.server.app.rest_port}"

    def cert(self, cn: str, groups: tuple[str, ...] = ()) -> TLSConfig:
        safe = "".join(ch if ch.isalnum() else "-" for ch in cn + "-" + "-".join(groups))
        return issue(self.pki, f"user-{safe}", cn, groups)

    def as_user(self, cn: str, groups: tuple[str, ...] = ()) -> apiserver_pb2_grpc.ApiServerStub:
        channel = create_channel(self.target, tls=self.cert(cn, groups))
        self.channels.append(channel)
        return apiserver_pb2_grpc.ApiServerStub(channel)

    async def close(self) -> None:
        for c in self.channels:
            await c.close()
        await self.server.channel.close()
        await self.server.app.stop(0)


async def start_secure(etcd_endpoint: str, tmp: Path, mode: str = "Node,RBAC", **overrides: Any) -> SecureCluster:
    pki = tmp / "pki"
    srv = ensure_cluster_pki(pki, components=["apiserver"])["apiserver"]
    cfg = make_config(
        [etcd_endpoint],
        tls_cert_file=srv.cert_file,
        tls_key_file=srv.key_file,
        client_ca_file=srv.ca_file,
        authorization_mode=mode,
        secure_port=0,
        **overrides,
    )
    return SecureCluster(pki, await start_server(cfg))
