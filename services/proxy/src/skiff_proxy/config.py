"""Typed skiff-proxy configuration; flag names follow kube-proxy's where it has one."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig


@dataclass
class ProxyConfig:
    """skiff-proxy: programs Service virtual IPs (ClusterIP, NodePort) into the node's kernel."""

    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(default="", metadata={"help": "CA bundle (PEM) for mutual TLS"})
    tls_cert_file: str = field(default="", metadata={"help": "client certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    proxy_mode: Literal["nftables", "iptables"] = field(
        default="nftables", metadata={"help": "how Services are programmed: nftables (nft -f) or iptables"}
    )
    cluster_cidr: str = field(
        default="", metadata={"help": "the pods' CIDR; traffic from elsewhere to a ClusterIP is masqueraded"}
    )
    service_cidr: str = field(
        default="10.96.0.0/12", metadata={"help": "the ClusterIP range; unallocated addresses in it are dropped"}
    )
    nodeport_addresses: list[str] = field(
        default_factory=list, metadata={"help": "the node's own addresses that serve NodePorts (none: no NodePorts)"}
    )
    pod_bridge: str = field(
        default="", metadata={"help": "proxy only pod traffic entering from this bridge (empty: from anywhere)"}
    )
    table: str = field(default="skiff-proxy", metadata={"help": "name of the nftables table / iptables chain prefix"})
    min_sync_period: float = field(
        default=0.1, metadata={"help": "seconds: at most one sync per period, changes in between are batched"}
    )
    sync_period: float = field(default=30.0, metadata={"help": "seconds between periodic resyncs"})
    full_sync_period: float = field(
        default=3600.0, metadata={"help": "seconds between whole-table rebuilds on a periodic resync"}
    )
    healthz_address: str = field(default="127.0.0.1:10256", metadata={"help": "host:port of /healthz (empty: off)"})
    metrics_address: str = field(default="", metadata={"help": "Prometheus endpoint host:port (empty: off)"})
    cleanup: bool = field(default=False, metadata={"help": "remove the proxy's rules and exit"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def validate(self) -> None:
        """Bad network settings are refused at start: they decide what the rules may match."""
        for name in ("cluster_cidr", "service_cidr"):
            value = getattr(self, name)
            if value:
                try:
                    net = ipaddress.ip_network(value, strict=True)
                except ValueError as exc:
                    raise ValueError(f"--{name.replace('_', '-')}: {exc}") from None
                if net.version != 4:
                    raise ValueError(f"--{name.replace('_', '-')}: only IPv4 is supported")
        for a in self.nodeport_addresses:
            try:
                ipaddress.IPv4Address(a)
            except ValueError:
                raise ValueError(f"--nodeport-addresses: {a!r} is not an IPv4 address") from None
        if not self.table.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"--table: {self.table!r} must be letters, digits, '-' or '_'")
        if self.min_sync_period < 0 or self.sync_period <= 0:
            raise ValueError("--min-sync-period must be >= 0 and --sync-period > 0")
