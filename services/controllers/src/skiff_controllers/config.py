"""Typed controller-manager configuration."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig


@dataclass
class ControllersConfig:
    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(default="", metadata={"help": "CA bundle (PEM) for mutual TLS"})
    tls_cert_file: str = field(default="", metadata={"help": "client certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    metrics_address: str = field(default="", metadata={"help": "Prometheus endpoint host:port (empty: off)"})
    controllers: list[str] = field(
        default_factory=list, metadata={"help": "controllers to run: '*' (default), names, '-name' to skip"}
    )
    use_service_account_credentials: bool = field(
        default=False,
        metadata={
            "help": "each controller acts as its own kube-system ServiceAccount (a TokenRequest token), so "
            "RBAC's system:controller:* roles apply; the manager's own identity only reads and gets tokens"
        },
    )
    leader_elect: bool = field(default=True, metadata={"help": "use a Lease so only one instance is active"})
    leader_identity: str = field(
        default_factory=lambda: f"{socket.gethostname()}_{os.getpid()}",
        metadata={"help": "identity written to the Lease"},
    )
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})
    node_monitor_grace_period: float = field(
        default=40.0, metadata={"help": "seconds a node may go unheard before it is marked Unknown"}
    )
    allocate_node_cidrs: bool = field(
        default=False, metadata={"help": "give every Node a spec.podCIDR from --cluster-cidr (node IPAM)"}
    )
    cluster_cidr: str = field(default="10.244.0.0/16", metadata={"help": "CIDR node pod ranges are cut from"})
    node_cidr_mask_size: int = field(default=24, metadata={"help": "prefix length of each node's pod range"})
    cluster_signing_cert_file: str = field(
        default="", metadata={"help": "CA certificate (PEM) the CSR signer issues with (empty: signer idle)"}
    )
    cluster_signing_key_file: str = field(
        default="", metadata={"help": "private key (PEM) of --cluster-signing-cert-file", "secret": True}
    )
    cluster_signing_duration: float = field(
        default=365 * 86400.0, metadata={"help": "seconds a signed certificate is valid at most"}
    )
    # HorizontalPodAutoscaler (kube-controller-manager's flags, in seconds)
    metrics_api_server: str = field(
        default="", metadata={"help": "URL of the REST API serving metrics.k8s.io (the apiserver's secure port)"}
    )
    horizontal_pod_autoscaler_sync_period: float = field(default=15.0, metadata={"help": "seconds between HPA syncs"})
    horizontal_pod_autoscaler_downscale_stabilization: float = field(
        default=300.0, metadata={"help": "default scale-down stabilization window, seconds"}
    )
    horizontal_pod_autoscaler_tolerance: float = field(default=0.1, metadata={"help": "no scaling within this ratio"})
    horizontal_pod_autoscaler_cpu_initialization_period: float = field(
        default=300.0, metadata={"help": "seconds after start when CPU samples of unready pods are skipped"}
    )
    horizontal_pod_autoscaler_initial_readiness_delay: float = field(
        default=30.0, metadata={"help": "seconds after start when readiness changes count as initial"}
    )
    # ResourceQuota (kube-controller-manager's --resource-quota-sync-period)
    resource_quota_sync_period: float = field(
        default=300.0, metadata={"help": "seconds between full recomputations of every quota's usage"}
    )

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)
