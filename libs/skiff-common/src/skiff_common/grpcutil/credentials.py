"""TLS material for servers and channels.

Skiff uses mutual TLS everywhere TLS is on: every component holds a certificate signed by the cluster CA
(see `skiff_common.tls`), servers require a client certificate and channels present one. There is no
"server-only TLS" mode on purpose: one mode is one thing to get right.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc
from cryptography import x509
from prometheus_client import Gauge

# Every process reports when the certificates it uses stop being valid, so one alert (and `skiff certs
# check-expiration`) sees them all; Kubernetes' equivalent is the apiserver's client-certificate histogram.
CERT_EXPIRY = Gauge(
    "skiff_certificate_expiration_timestamp_seconds",
    "When a certificate this process uses expires (Unix time), by file and role (ca or leaf).",
    ["certificate", "role"],
)


@dataclass(frozen=True)
class TLSConfig:
    """PEM file paths: the cluster CA, this component's certificate and its private key."""

    ca_file: str
    cert_file: str
    key_file: str

    def read(self) -> tuple[bytes, bytes, bytes]:
        """(ca, cert, key) bytes; a missing file raises a clear FileNotFoundError naming the field."""
        out: list[bytes] = []
        for field, path in (
            ("ca_file", self.ca_file),
            ("cert_file", self.cert_file),
            ("key_file", self.key_file),
        ):
            try:
                out.append(Path(path).read_bytes())
            except FileNotFoundError as exc:
                raise FileNotFoundError(f"TLS {field}: no such file: {path}") from exc
        _record_expiry(self.ca_file, out[0], "ca")
        _record_expiry(self.cert_file, out[1], "leaf")
        return out[0], out[1], out[2]


def _record_expiry(path: str, pem: bytes, role: str) -> None:
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:  # not ours to judge here: grpc reports a bad certificate with its own error
        return
    CERT_EXPIRY.labels(path, role).set(cert.not_valid_after_utc.timestamp())


def server_credentials(tls: TLSConfig) -> grpc.ServerCredentials:
    ca, cert, key = tls.read()
    return grpc.ssl_server_credentials([(key, cert)], root_certificates=ca, require_client_auth=True)


def channel_credentials(tls: TLSConfig) -> grpc.ChannelCredentials:
    ca, cert, key = tls.read()
    return grpc.ssl_channel_credentials(root_certificates=ca, private_key=key, certificate_chain=cert)
