"""The three TLS flags every client of the apiserver takes, turned into one TLSConfig (or none)."""

from __future__ import annotations

from skiff_common.grpcutil import TLSConfig


def tls_from_files(ca_file: str, cert_file: str, key_file: str) -> TLSConfig | None:
    """None when no file is given (plaintext); all three or none, since TLS here is always mutual."""
    files = (ca_file, cert_file, key_file)
    if not any(files):
        return None
    if not all(files):
        raise ValueError("--tls-ca-file, --tls-cert-file and --tls-key-file must be given together")
    return TLSConfig(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
