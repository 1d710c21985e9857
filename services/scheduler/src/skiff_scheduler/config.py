"""Typed scheduler configuration (flags, environment, file); profiles come from --config."""

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
    # kube-scheduler's --config; --config itself is skiff_common's file of these settings.
    scheduler_config: str = field(
        default="", metadata={"help": "KubeSchedulerConfiguration YAML (profiles, plugins, percentageOfNodesToScore)"}
    )
    leader_elect: bool = field(default=False, metadata={"help": "elect a leader on Lease kube-system/kube-scheduler"})
    leader_identity: str = field(default="", metadata={"help": "identity in the Lease (default: hostname_random)"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
