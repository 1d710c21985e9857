"""A quick test PKI: one CA and one mutual-TLS certificate per name, each usable as client AND server.

Clusters do not use this any more: `skiff up`, `skiff certs` and the TLS bootstrap issue kubeadm's
certificates, one job each, from skiff_common.pki. This stays for tests and benchmarks that need a
certificate that can be both ends of a connection.

Design:
* ECDSA P-256 keys: small, fast to generate (start-up stays quick) and supported by gRPC's BoringSSL.
* Every component certificate carries BOTH serverAuth and clientAuth, because Skiff components are
  both (the kubelet serves the runtime's clients and dials the apiserver). CN is the component name, so
  a server can identify its caller from the peer certificate.
* Idempotent, and self-healing rather than blindly "create once": an existing certificate is kept only
  if it is signed by the current CA, matches its key, covers every requested host and is not about to
  expire; otherwise it is re-issued. Deleting ca.key therefore re-issues everything on the next run.
* Private keys are written 0600 via a temporary file + rename, so a crash never leaves a half-written
  or world-readable key. An flock serialises concurrent callers (several components starting at once).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from skiff_common.grpcutil.credentials import TLSConfig

CA_VALIDITY = dt.timedelta(days=3650)
CERT_VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
_COMPONENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$")


def ensure_cluster_pki(
    directory: Path,
    *,
    components: Sequence[str],
    hosts: Sequence[str] = ("127.0.0.1", "localhost"),
) -> dict[str, TLSConfig]:
    """Create (or repair) `ca.crt`/`ca.key` and `<component>.crt`/`.key` under `directory`."""
    for name in components:
        if not _COMPONENT_NAME.match(name) or name == "ca":
            raise ValueError(f"components: invalid component name {name!r} (lowercase letters, digits, '-', '.')")
    if not hosts:
        raise ValueError("hosts: at least one host name or IP address is required")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / ".pki.lock"):
        ca_cert, ca_key = _ensure_ca(directory)
        out: dict[str, TLSConfig] = {}
        for name in components:
            _ensure_leaf(directory, name, hosts, ca_cert, ca_key)
            out[name] = TLSConfig(
                ca_file=str(directory / "ca.crt"),
                cert_file=str(directory / f"{name}.crt"),
                key_file=str(directory / f"{name}.key"),
            )
        return out


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask; be explicit
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError):  # missing or corrupt: regenerate
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        return None
    return cert, key


def _fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - RENEW_BEFORE > _now()


def _key_usage(*, ca: bool) -> x509.KeyUsage:
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


def _ensure_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.crt", directory / "ca.key"
    loaded = _load(cert_path, key_path)
    if loaded is not None and _fresh(loaded[0]):
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "skiff-ca")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))  # tolerate small clock skew
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return cert, key


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _leaf_ok(cert: x509.Certificate, hosts: Sequence[str], ca_cert: x509.Certificate) -> bool:
    if cert.issuer != ca_cert.subject or not _fresh(cert):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    try:
        sans = set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return False
    return all(_san(h) in sans for h in hosts)


def _ensure_leaf(
    directory: Path,
    name: str,
    hosts: Sequence[str],
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
) -> None:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    loaded = _load(cert_path, key_path)
    if loaded is not None and _leaf_ok(loaded[0], hosts, ca_cert):
        return
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + CERT_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in dict.fromkeys(hosts)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), 0o600)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def peer_common_name(auth_context: dict[str, list[bytes]]) -> str | None:
    """The CN of the verified client certificate, from `context.auth_context()` (None without mTLS)."""
    values = auth_context.get("x509_common_name") or []
    return values[0].decode() if values else None


__all__ = ["ensure_cluster_pki", "peer_common_name"]
