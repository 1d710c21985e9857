"""Typed scheduler configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig


@dataclass
class SchedulerConfig:
    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(default="", metadata={"help": "CA bundle (PEM) for mutual TLS"})
    tls_cert_file: str = field(default="", metadata={"help": "client certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    metrics_address: str = field(default="", metadata={"help": "Prometheus endpoint host:port (empty: off)"})
    plugins: list[str] = field(default_factory=list, metadata={"help": "plugins to enable (default: all registered)"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
