"""`skiff certs check-expiration` and `skiff certs renew`, as kubeadm's.

Renewal keeps everything a certificate says (subject, usages, SANs) and its key, and signs it again by
the CA that signed it, for a new validity period: what `kubeadm certs renew` does with the local CA.
Components read their certificate files at start-up, so they are restarted after a renewal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from .ca import RENEW_BEFORE
from .cluster import ClusterPKI
from .files import load_cert, load_pair, now, write_pair
from .issue import CERT_VALIDITY, sign_public_key, signed_by


@dataclass(frozen=True)
class CertStatus:
    name: str  # file stem under the PKI folder
    expires: dt.datetime
    residual: dt.timedelta
    authority: str  # the CA's file stem ("" for a CA itself)
    is_ca: bool

    @property
    def needs_renewal(self) -> bool:
        return self.residual < RENEW_BEFORE


def _stems(pki: ClusterPKI) -> list[str]:
    return sorted(
        str(p.relative_to(pki.directory).with_suffix("")) for p in pki.directory.rglob("*.crt") if p.is_file()
    )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _authority(cert: x509.Certificate, cas: dict[str, x509.Certificate]) -> str:
    return next((stem for stem, ca in cas.items() if signed_by(cert, ca)), "")


def check_expiration(pki: ClusterPKI) -> list[CertStatus]:
    certs = {stem: c for stem in _stems(pki) if (c := load_cert(pki.path(stem))) is not None}
    cas = {stem: c for stem, c in certs.items() if _is_ca(c)}
    at = now()
    return [
        CertStatus(
            name=stem,
            expires=cert.not_valid_after_utc,
            residual=cert.not_valid_after_utc - at,
            authority="" if stem in cas else _authority(cert, cas),
            is_ca=stem in cas,
        )
        for stem, cert in certs.items()
    ]


def renew(pki: ClusterPKI, names: list[str] | None = None, *, validity: dt.timedelta = CERT_VALIDITY) -> list[str]:
    """Re-sign the named leaves (all of them when None); returns what was renewed. Unknown names and
    certificates no CA here signed raise ValueError naming them."""
    statuses = {s.name: s for s in check_expiration(pki)}
    wanted = [s for s in statuses if not statuses[s].is_ca] if names is None else names
    for name in wanted:
        if name not in statuses or statuses[name].is_ca:
            raise ValueError(f"certs renew: {name!r} is not a certificate of {pki.directory}")
        if not statuses[name].authority:
            raise ValueError(f"certs renew: {name!r} was not signed by a CA in {pki.directory}")
    renewed = []
    for name in wanted:
        loaded = load_pair(pki.path(name), pki.path(name, "key"))
        if loaded is None:
            raise ValueError(f"certs renew: {name!r} has no matching private key")
        cert, key = loaded
        ca_cert, ca_key = pki.ca(statuses[name].authority)
        write_pair(pki.path(name), pki.path(name, "key"), _resign(cert, key, ca_cert, ca_key, validity), key)
        renewed.append(name)
    return renewed


def _resign(
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    validity: dt.timedelta,
) -> x509.Certificate:
    ekus = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        hosts = [str(v) for v in sans.get_values_for_type(x509.IPAddress)] + list(
            sans.get_values_for_type(x509.DNSName)
        )
    except x509.ExtensionNotFound:
        hosts = []
    return sign_public_key(key.public_key(), cert.subject, ekus, hosts, ca_cert, ca_key, validity=validity)
