"""Typed skiff-dns configuration (flags, SKIFF_* environment, --config file)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability.metrics import parse_host_port


@dataclass
class DnsConfig:
    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(default="", metadata={"help": "CA bundle (PEM) for mutual TLS"})
    tls_cert_file: str = field(default="", metadata={"help": "client certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    listen: list[str] = field(
        default_factory=lambda: ["127.0.0.1:53"],
        metadata={"help": "host:port to serve DNS on, UDP and TCP (repeat or comma-separate for several)"},
    )
    freebind: bool = field(
        default=False,
        metadata={"help": "listen on addresses not (yet) configured on this host (IP_FREEBIND), e.g. a pod bridge's"},
    )
    endpoint_source: Literal["auto", "endpoints", "endpointslices"] = field(
        default="auto",
        metadata={"help": "where headless Services' addresses come from (auto: EndpointSlices if served)"},
    )
    cluster_domain: str = field(default="cluster.local", metadata={"help": "the cluster's DNS zone"})
    ttl: int = field(default=5, metadata={"help": "TTL in seconds of the cluster records"})
    pods: Literal["insecure", "disabled"] = field(
        default="insecure",
        metadata={"help": "pod records a-b-c-d.<ns>.pod.<domain>: insecure (any IP, as kubeadm) or disabled"},
    )
    upstream_resolv_conf: str = field(
        default="/etc/resolv.conf",
        metadata={"help": "resolv.conf whose nameservers answer names outside the cluster domain (empty: none)"},
    )
    cache_entries: int = field(
        default=10_000, metadata={"help": "rendered in-zone responses kept until the cluster changes (0: no cache)"}
    )
    upstream_port: int = field(default=53, metadata={"help": "port the upstream nameservers listen on"})
    health_address: str = field(default="", metadata={"help": "host:port serving /healthz and /readyz (empty: off)"})
    metrics_address: str = field(default="", metadata={"help": "Prometheus endpoint host:port (empty: off)"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def validate(self) -> None:
        """Raise ValueError naming the setting for values the loader's types cannot catch."""
        for address in self.listen:
            try:
                parse_host_port(address)
            except ValueError:
                raise ValueError(f"listen: expected host:port, got {address!r}") from None
        if not 0 < self.upstream_port < 65536:
            raise ValueError(f"upstream_port: must be 1-65535, got {self.upstream_port}")
        if self.cache_entries < 0:
            raise ValueError(f"cache_entries: must be 0 or more, got {self.cache_entries}")
        if not 0 <= self.ttl <= 3600:
            raise ValueError(f"ttl: must be between 0 and 3600 seconds, got {self.ttl}")
        labels = self.cluster_domain.strip(".").split(".")
        if not all(labels) or any(len(label) > 63 for label in labels):
            raise ValueError(f"cluster_domain: {self.cluster_domain!r} is not a DNS name")
