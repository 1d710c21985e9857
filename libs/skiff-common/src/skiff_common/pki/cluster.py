"""A cluster's PKI folder, laid out as kubeadm's /etc/kubernetes/pki.

`ensure(profiles)` makes the CAs the profiles need and every leaf that is missing or no longer fits
(idempotent, and safe to call from several processes at once: one flock guards the folder). It returns
one TLSConfig per profile: the CA that signed it, so a client trusts exactly its server's CA (the
cluster CA for the apiserver and kubelets, etcd's own CA for etcd).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..grpcutil.credentials import TLSConfig
from .ca import ensure_ca
from .files import locked
from .issue import CertProfile, ensure_leaf

CA_COMMON_NAMES = {"ca": "kubernetes", "etcd/ca": "etcd-ca"}


class ClusterPKI:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def path(self, stem: str, suffix: str = "crt") -> Path:
        return self.directory / f"{stem}.{suffix}"

    def tls(self, profile: CertProfile) -> TLSConfig:
        return TLSConfig(
            ca_file=str(self.path(profile.ca)),
            cert_file=str(self.path(profile.name)),
            key_file=str(self.path(profile.name, "key")),
        )

    def ca(self, stem: str = "ca") -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        """The CA pair (made if missing); e.g. for the CSR signer."""
        with locked(self.directory / ".pki.lock"):
            return ensure_ca(self.path(stem), self.path(stem, "key"), CA_COMMON_NAMES.get(stem, stem))

    def ensure(self, profiles: Sequence[CertProfile]) -> dict[str, TLSConfig]:
        self.directory.mkdir(parents=True, exist_ok=True)
        out: dict[str, TLSConfig] = {}
        with locked(self.directory / ".pki.lock"):
            cas: dict[str, tuple[x509.Certificate, ec.EllipticCurvePrivateKey]] = {}
            for profile in profiles:
                if profile.ca not in cas:
                    cn = CA_COMMON_NAMES.get(profile.ca, profile.ca)
                    cas[profile.ca] = ensure_ca(self.path(profile.ca), self.path(profile.ca, "key"), cn)
                ensure_leaf(self.directory, profile, *cas[profile.ca])
                out[profile.name] = self.tls(profile)
        return out


def ca_cert_hash(ca_pem: bytes) -> str:
    """kubeadm's --discovery-token-ca-cert-hash: "sha256:" + hex SHA-256 of the CA's DER-encoded
    SubjectPublicKeyInfo (so the pin survives re-signing the CA with the same key)."""
    cert = x509.load_pem_x509_certificate(ca_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
