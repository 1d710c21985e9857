"""Issuing one leaf certificate for one job, and deciding whether an existing one still fits.

A profile says what a certificate is for: a *server* certificate carries only serverAuth and the names
and addresses it serves (its SANs); a *client* certificate carries only clientAuth and the identity it
proves (CN = user, O = groups, as the apiserver's x509 authenticator reads them); a *peer* certificate
(etcd members talking to each other over mutual TLS) is both, because each member dials the others and
is dialled by them. Keeping the usages apart is what stops a kubelet's certificate from posing as the
apiserver, or any server's certificate from being used as a client identity.

An existing certificate is kept only if it still fits its profile exactly (same CA, subject, usages,
SANs, and not about to expire); otherwise it is re-issued. `sign_public_key` is the one signing routine,
used both here and by the CSR signer (which signs a key it never sees the private half of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .ca import fresh, key_usage
from .files import load_pair, now, san, write_pair

Usage = Literal["server", "client", "peer"]
CERT_VALIDITY = dt.timedelta(days=365)
_EKU: dict[Usage, tuple[x509.ObjectIdentifier, ...]] = {
    "server": (ExtendedKeyUsageOID.SERVER_AUTH,),
    "client": (ExtendedKeyUsageOID.CLIENT_AUTH,),
    "peer": (ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH),
}


@dataclass(frozen=True)
class CertProfile:
    """One certificate: its file stem under the PKI folder, identity, usage, SANs and signing CA."""

    name: str  # e.g. "apiserver", "etcd/peer", "nodes/n1/kubelet-client"
    common_name: str
    usage: Usage
    organizations: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    ca: str = "ca"  # the CA's file stem: "ca" or "etcd/ca"

    def __post_init__(self) -> None:
        if self.usage in ("server", "peer") and not self.hosts:
            raise ValueError(f"{self.name}: a {self.usage} certificate needs at least one host (SAN)")

    @property
    def extended_key_usages(self) -> tuple[x509.ObjectIdentifier, ...]:
        return _EKU[self.usage]


def subject(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def sign_public_key(
    public_key: ec.EllipticCurvePublicKey,
    name: x509.Name,
    usages: Sequence[x509.ObjectIdentifier],
    hosts: Sequence[str],
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    *,
    validity: dt.timedelta = CERT_VALIDITY,
) -> x509.Certificate:
    """A leaf for `public_key`, signed by the CA, never outliving the CA."""
    start = now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(min(start + validity, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(ca=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(usages)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([san(h) for h in dict.fromkeys(hosts)]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def signed_by(cert: x509.Certificate, ca_cert: x509.Certificate) -> bool:
    if cert.issuer != ca_cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def fits(cert: x509.Certificate, profile: CertProfile, ca_cert: x509.Certificate) -> bool:
    """Whether `cert` is exactly what `profile` asks for, from this CA, and not about to expire."""
    if not fresh(cert) or not signed_by(cert, ca_cert):
        return False
    if cert.subject != subject(profile.common_name, profile.organizations):
        return False
    try:
        ekus = set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return False
    if ekus != set(profile.extended_key_usages):
        return False
    try:
        sans = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        sans = set()
    return sans == {san(h) for h in profile.hosts}


def ensure_leaf(
    directory: Path, profile: CertProfile, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> None:
    """Keep `<name>.crt`/`.key` if they fit the profile; otherwise issue them (with a new key)."""
    cert_path, key_path = directory / f"{profile.name}.crt", directory / f"{profile.name}.key"
    loaded = load_pair(cert_path, key_path)
    if loaded is not None and fits(loaded[0], profile, ca_cert):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    cert = sign_public_key(
        key.public_key(),
        subject(profile.common_name, profile.organizations),
        profile.extended_key_usages,
        profile.hosts,
        ca_cert,
        ca_key,
    )
    write_pair(cert_path, key_path, cert, key)
