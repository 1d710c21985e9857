"""Typed kubelet configuration (flags > SKIFF_* env > --config YAML > defaults, via skiff_common.config)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass, field

from skiff_client.tlsfiles import tls_from_files
from skiff_common.grpcutil import TLSConfig

from skiff_kubelet.imagegc.policy import ImageGCPolicy

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


def parse_duration(value: str, name: str) -> float:
    """ "10s", "500ms", "1m", "2.5" (seconds) -> seconds; ValueError naming the flag otherwise."""
    m = _DURATION.match(value.strip())
    if not m:
        raise ValueError(f"--{name}: invalid duration {value!r} (use e.g. 10s, 500ms, 1m)")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class KubeletConfig:
    node_name: str = field(
        default_factory=lambda: socket.gethostname().lower(),
        metadata={"help": "name of this node's Node object (default: hostname)"},
    )
    apiserver: str = field(default="127.0.0.1:6443", metadata={"help": "apiserver address host:port"})
    tls_ca_file: str = field(default="", metadata={"help": "CA bundle (PEM) for mutual TLS"})
    tls_cert_file: str = field(default="", metadata={"help": "client/server certificate (PEM)"})
    tls_key_file: str = field(default="", metadata={"help": "private key (PEM)", "secret": True})
    tls_serving_cert_file: str = field(
        default="", metadata={"help": "serving certificate (PEM, serverAuth); default: --tls-cert-file"}
    )
    tls_serving_key_file: str = field(
        default="", metadata={"help": "serving private key (PEM); default: --tls-key-file", "secret": True}
    )
    bootstrap_kubeconfig: str = field(
        default="",
        metadata={"help": "TLS bootstrap: a kubeconfig with a bootstrap token; the certificates are requested by CSR"},
    )
    runtime_endpoint: str = field(default="unix:///run/skiff/runtime.sock", metadata={"help": "CRI socket"})
    pod_cidr: str = field(default="10.88.0.0/16", metadata={"help": "pod CIDR told to the runtime"})
    listen: str = field(default="127.0.0.1:10250", metadata={"help": "address of the Kubelet gRPC service"})
    node_ip: str = field(default="", metadata={"help": "the node's InternalIP and the pods' hostIP (empty: 127.0.0.1)"})
    root_dir: str = field(default="/var/lib/skiff/kubelet", metadata={"help": "volumes and state"})
    pod_log_dir: str = field(default="/var/log/skiff/pods", metadata={"help": "container log root"})
    cgroup_root: str = field(
        default="skiff", metadata={"help": "cgroup (cgroupfs path) under which every pod's cgroup is created"}
    )
    metrics_address: str = field(
        default="",
        metadata={"help": "stats/metrics port host:port (HTTPS and authenticated with TLS files; empty: off)"},
    )
    healthz_address: str = field(
        default="",
        metadata={"help": "plain-HTTP /healthz, /livez, /readyz host:port for probes (kubelet's 10248; empty: off)"},
    )
    node_status_interval: str = field(default="10s", metadata={"help": "how often node status is computed"})
    node_status_report_frequency: str = field(
        default="5m", metadata={"help": "node status is written at least this often, else only on change"}
    )
    sync_frequency: str = field(default="10s", metadata={"help": "periodic resync of every pod"})
    relist_period: str = field(default="1s", metadata={"help": "how often container states are polled"})
    crash_loop_backoff: str = field(
        default="10s", metadata={"help": "first restart delay of a crashing container (doubles up to 5m)"}
    )
    cluster_dns: str = field(
        default="10.96.0.10",
        metadata={"help": "comma-separated cluster DNS server IPs for ClusterFirst pods (empty: use the node's)"},
    )
    cluster_domain: str = field(default="cluster.local", metadata={"help": "the cluster's DNS domain"})
    resolv_conf: str = field(
        default="/etc/resolv.conf",
        metadata={"help": "the node's resolver file, for dnsPolicy Default and the search path (empty: none)"},
    )
    max_pods: int = field(default=110, metadata={"help": "pods capacity advertised"})
    eviction_hard: str = field(
        default="memory.available<100Mi,nodefs.available<10%,imagefs.available<15%,nodefs.inodesFree<5%",
        metadata={"help": "hard eviction thresholds, e.g. memory.available<100Mi,nodefs.available<10% (empty: none)"},
    )
    eviction_soft: str = field(default="", metadata={"help": "soft eviction thresholds (need a grace period)"})
    eviction_soft_grace_period: str = field(default="", metadata={"help": "e.g. memory.available=1m30s"})
    eviction_pressure_transition_period: str = field(
        default="5m", metadata={"help": "how long a pressure condition stays after its threshold is last met"}
    )
    eviction_monitoring_interval: str = field(default="10s", metadata={"help": "how often thresholds are checked"})
    image_gc_high_threshold: int = field(
        default=85, metadata={"help": "image filesystem usage percent at which image GC runs (100: never)"}
    )
    image_gc_low_threshold: int = field(default=80, metadata={"help": "usage percent image GC frees down to"})
    image_minimum_gc_age: str = field(default="2m", metadata={"help": "images first seen more recently are kept"})
    image_maximum_gc_age: str = field(
        default="0s", metadata={"help": "unused images older than this are removed whatever the usage (0s: off)"}
    )
    image_gc_period: str = field(
        default="5m", metadata={"help": "how often image GC runs (Kubernetes: fixed 5m; shorter for tests)"}
    )

    seccomp_default: bool = field(
        default=False,
        metadata={"help": "RuntimeDefault seccomp for every container that names no profile (else Unconfined)"},
    )
    pod_max_pids: int = field(
        default=-1, metadata={"help": "pids.max of every pod's cgroup: processes of all its containers (-1: none)"}
    )
    authorization_mode: str = field(
        default="AlwaysAllow",
        metadata={"help": "who may call the kubelet API: AlwaysAllow, or Webhook (a SubjectAccessReview per caller)"},
    )
    authorization_webhook_cache_authorized_ttl: str = field(
        default="5m", metadata={"help": "how long an allowed Webhook answer is cached"}
    )
    authorization_webhook_cache_unauthorized_ttl: str = field(
        default="30s", metadata={"help": "how long a denied Webhook answer is cached"}
    )
    log_level: str = field(default="info", metadata={"help": "debug, info, warning, error"})

    def tls(self) -> TLSConfig | None:
        return tls_from_files(self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def serving_tls(self) -> TLSConfig | None:
        """What the kubelet's own server presents: its serving certificate (system:node:<name>, serverAuth),
        kept apart from the client certificate it dials the apiserver with, as the kubelet's
        --tls-cert-file is kept apart from its kubeconfig."""
        if not self.tls_serving_cert_file and not self.tls_serving_key_file:
            return self.tls()
        return tls_from_files(self.tls_ca_file, self.tls_serving_cert_file, self.tls_serving_key_file)

    def validate(self) -> None:
        """Raise ValueError naming the flag for bad values (durations, CIDR, TLS trio)."""
        import ipaddress

        from skiff_kubelet.eviction.thresholds import parse as parse_thresholds

        parse_thresholds(self.eviction_hard, self.eviction_soft, self.eviction_soft_grace_period)
        for name in (
            "node_status_interval", "node_status_report_frequency", "sync_frequency", "relist_period",
            "crash_loop_backoff", "eviction_pressure_transition_period", "eviction_monitoring_interval",
            "image_minimum_gc_age", "image_maximum_gc_age", "image_gc_period",
            "authorization_webhook_cache_authorized_ttl", "authorization_webhook_cache_unauthorized_ttl",
        ):  # fmt: skip
            parse_duration(getattr(self, name), name.replace("_", "-"))
        self.image_gc_policy().validate()
        try:
            ipaddress.ip_network(self.pod_cidr, strict=False)
        except ValueError as exc:
            raise ValueError(f"--pod-cidr: invalid CIDR {self.pod_cidr!r}: {exc}") from None
        if not self.cgroup_root.strip("/") or ".." in self.cgroup_root.split("/"):
            raise ValueError(f"--cgroup-root: invalid cgroup path {self.cgroup_root!r}")
        if self.node_ip:
            try:
                ipaddress.ip_address(self.node_ip)
            except ValueError:
                raise ValueError(f"--node-ip: {self.node_ip!r} is not an IP address") from None
        for ip in self.cluster_dns_ips:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise ValueError(f"--cluster-dns: {ip!r} is not an IP address") from None
        domain = self.cluster_domain.strip(".")
        if self.cluster_domain and not re.fullmatch(
            r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", domain
        ):
            raise ValueError(f"--cluster-domain: {self.cluster_domain!r} is not a DNS domain (lowercase labels)")
        if self.pod_max_pids == 0 or self.pod_max_pids < -1:
            raise ValueError(f"--pod-max-pids: must be positive or -1 (no limit), not {self.pod_max_pids}")
        if not self.node_name:
            raise ValueError("--node-name: must not be empty")
        if self.authorization_mode not in ("AlwaysAllow", "Webhook"):
            raise ValueError(f"--authorization-mode: {self.authorization_mode!r} is not one of AlwaysAllow, Webhook")
        self.tls()
        self.serving_tls()

    def image_gc_policy(self) -> ImageGCPolicy:
        return ImageGCPolicy(
            self.image_gc_high_threshold,
            self.image_gc_low_threshold,
            parse_duration(self.image_minimum_gc_age, "image-minimum-gc-age"),
            parse_duration(self.image_maximum_gc_age, "image-maximum-gc-age"),
        )

    @property
    def cluster_dns_ips(self) -> list[str]:
        return [ip.strip() for ip in self.cluster_dns.split(",") if ip.strip()]

    @property
    def status_interval_s(self) -> float:
        return parse_duration(self.node_status_interval, "node-status-interval")

    @property
    def status_report_frequency_s(self) -> float:
        return parse_duration(self.node_status_report_frequency, "node-status-report-frequency")

    @property
    def sync_frequency_s(self) -> float:
        return parse_duration(self.sync_frequency, "sync-frequency")

    @property
    def crash_loop_backoff_s(self) -> float:
        return parse_duration(self.crash_loop_backoff, "crash-loop-backoff")

    @property
    def relist_period_s(self) -> float:
        return parse_duration(self.relist_period, "relist-period")
