"""Who a certificate says its holder is, the way Kubernetes' x509 authenticator reads it: the subject's
Common Name is the user name and each Organization is a group. Used by servers to name their caller from
the verified peer certificate of a gRPC call."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()


def identity_of(cert: x509.Certificate | x509.CertificateSigningRequest) -> Identity:
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return Identity(user=str(cn[0].value) if cn else "", groups=tuple(str(o.value) for o in orgs))


def peer_identity(auth_context: dict[str, list[bytes]]) -> Identity | None:
    """The identity in the verified client certificate of `context.auth_context()` (None without mTLS)."""
    pems = auth_context.get("x509_pem_cert") or []
    if not pems:
        return None
    return identity_of(x509.load_pem_x509_certificate(pems[0]))
