"""Certificate authorities: the cluster CA (kubeadm's `ca`, CN=kubernetes) and etcd's own (`etcd/ca`).

A CA is made once and kept while it is valid; a missing or corrupt pair is made anew, which re-issues
every leaf on the next run (a leaf not signed by the current CA is never kept).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .files import load_pair, now, write_pair

CA_VALIDITY = dt.timedelta(days=3650)
# Renew a leaf this long before it expires (kubeadm warns at 30 days as well).
RENEW_BEFORE = dt.timedelta(days=30)


def key_usage(*, ca: bool) -> x509.KeyUsage:
    """digitalSignature for every ECDSA key; keyCertSign and cRLSign only on a CA (kubeadm's usages)."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def fresh(cert: x509.Certificate, *, before: dt.timedelta = RENEW_BEFORE) -> bool:
    return cert.not_valid_after_utc - before > now()


def ensure_ca(cert_path: Path, key_path: Path, common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """Load the CA pair at these paths, or make a self-signed one (ECDSA P-256, ten years)."""
    loaded = load_pair(cert_path, key_path)
    if loaded is not None and fresh(loaded[0]):
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(start + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_pair(cert_path, key_path, cert, key)
    return cert, key
