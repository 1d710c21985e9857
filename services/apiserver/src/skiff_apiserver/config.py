"""Typed configuration of skiff-apiserver (flags, SKIFF_* environment, optional YAML file)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ApiServerConfig:
    listen: str = field(default="127.0.0.1:6443", metadata={"help": "gRPC listen address (port 0: pick one)"})
    secure_port: int = field(
        default=-1,
        metadata={
            "help": "port of the Kubernetes REST API (HTTPS, same host and certificates as --listen; "
            "0: pick one, -1: off); `skiff up` uses 6444"
        },
    )
    etcd_endpoints: list[str] = field(
        default_factory=lambda: ["127.0.0.1:2379"],
        metadata={"help": "etcd client endpoints, comma separated (failover)"},
    )
    etcd_cafile: str | None = field(default=None, metadata={"help": "CA (PEM) that signs etcd's server certificate"})
    etcd_certfile: str | None = field(default=None, metadata={"help": "client certificate (PEM) presented to etcd"})
    etcd_keyfile: str | None = field(
        default=None, metadata={"help": "private key (PEM) of the etcd client certificate", "secret": True}
    )
    etcd_prefix: str = field(default="/registry", metadata={"help": "key prefix of every object in etcd"})
    etcd_timeout: float = field(default=10.0, metadata={"help": "seconds an etcd call may take at most"})
    metrics_address: str | None = field(default=None, metadata={"help": "Prometheus host:port, e.g. 127.0.0.1:9101"})
    tls_cert_file: str | None = field(default=None, metadata={"help": "server certificate (PEM)"})
    tls_key_file: str | None = field(default=None, metadata={"help": "server private key (PEM)", "secret": True})
    client_ca_file: str | None = field(
        default=None,
        metadata={"help": "CA that signs client certificates: mutual TLS when set with cert and key"},
    )
    kubelet_client_certificate: str | None = field(
        default=None, metadata={"help": "client certificate (PEM) presented to kubelets (clientAuth)"}
    )
    kubelet_client_key: str | None = field(
        default=None, metadata={"help": "private key (PEM) of --kubelet-client-certificate", "secret": True}
    )
    encryption_provider_config: str | None = field(
        default=None,
        metadata={"help": "EncryptionConfiguration (YAML) of the resources encrypted at rest in etcd, e.g. secrets"},
    )
    service_account_signing_key_file: str | None = field(
        default=None,
        metadata={"help": "EC P-256 private key (PEM) signing ServiceAccount tokens (none: one generated at start)"},
    )
    service_account_issuer: str = field(
        default="https://kubernetes.default.svc.cluster.local",
        metadata={"help": "the iss claim of ServiceAccount tokens"},
    )
    api_audiences: list[str] = field(
        default_factory=list, metadata={"help": "audiences tokens must name, comma separated (default: the issuer)"}
    )
    disable_admission_plugins: list[str] = field(
        default_factory=list,
        metadata={
            "help": "admission plugins turned off, comma separated (ServiceAccount: for a bare apiserver; "
            "LimitRanger, ResourceQuota)"
        },
    )
    pod_security_default_enforce: str = field(
        default="privileged", metadata={"help": "Pod Security level enforced where a namespace has no label"}
    )
    pod_security_default_audit: str = field(default="privileged", metadata={"help": "... audited likewise"})
    pod_security_default_warn: str = field(
        default="privileged", metadata={"help": "... warned likewise (`skiff up`: baseline)"}
    )
    pod_security_exempt_usernames: list[str] = field(
        default_factory=list, metadata={"help": "users Pod Security admission never checks"}
    )
    pod_security_exempt_namespaces: list[str] = field(
        default_factory=list, metadata={"help": "namespaces Pod Security admission never checks"}
    )
    audit_log_path: str | None = field(
        default=None, metadata={"help": "audit events (audit.k8s.io/v1, JSON lines) go to this file (none: off)"}
    )
    audit_policy_file: str | None = field(
        default=None, metadata={"help": "audit Policy (YAML); none: every request at Metadata level"}
    )
    audit_log_maxsize: int = field(default=100, metadata={"help": "MB an audit log file grows to before rotating"})
    audit_log_maxbackup: int = field(default=10, metadata={"help": "rotated audit log files kept"})
    authorization_mode: str = field(
        default="AlwaysAllow",
        metadata={
            "help": "authorizers in order, comma separated: AlwaysAllow, Node, RBAC (kubeadm and `skiff up`: "
            "Node,RBAC; system:masters is always allowed with Node or RBAC)"
        },
    )
    max_inflight: int = field(default=400, metadata={"help": "non-watch requests served at once (0: no cap)"})
    client_qps: float = field(default=0.0, metadata={"help": "requests/s per client (0: unlimited)"})
    client_burst: int = field(default=100, metadata={"help": "per-client burst above client_qps"})
    watch_cache_size: int = field(default=10000, metadata={"help": "events kept per resource for watch resumption"})
    watch_queue_size: int = field(
        default=1000,
        metadata={"help": "events a watcher may fall behind before it is closed with RESOURCE_EXHAUSTED"},
    )
    bookmark_interval: float = field(default=60.0, metadata={"help": "seconds of quiet before a watch BOOKMARK"})
    service_cluster_ip_range: str = field(
        default="10.96.0.0/16", metadata={"help": "CIDR Service cluster IPs come from ('' disables)"}
    )
    service_node_port_range: str = field(
        default="30000-32767", metadata={"help": "ports NodePort and LoadBalancer Services are given (first-last)"}
    )
    advertise_address: str = field(
        default="127.0.0.1",
        metadata={
            "help": "address of this apiserver in the `kubernetes` Service's Endpoints; the REST API also "
            "listens there when it is not the --listen host (bound with IP_FREEBIND: it may appear later)"
        },
    )
    advertise_grpc: bool = field(
        default=False,
        metadata={
            "help": "also serve the gRPC API on --advertise-address (a multi-node cluster's node bridge, "
            "where other nodes' kubelets and proxies dial; the address must exist at start)"
        },
    )
    endpoint_reconciler_type: str = field(
        default="lease",
        metadata={
            "help": "how the `kubernetes` Service's endpoints are kept: lease (every apiserver with a live "
            "master lease, Kubernetes' default) or none (left alone)"
        },
    )
    endpoint_reconciler_ttl: int = field(
        default=15, metadata={"help": "seconds a master lease outlives its apiserver's last refresh"}
    )
    endpoint_reconciler_interval: float = field(
        default=10.0, metadata={"help": "seconds between refreshes of this apiserver's master lease"}
    )
    event_ttl: int = field(default=3600, metadata={"help": "seconds Events live (etcd lease); 0: forever"})
    max_message_bytes: int = field(default=64 * 1024 * 1024, metadata={"help": "gRPC message size limit"})
    log_level: str = field(default="info", metadata={"help": "debug, info, warning or error"})
    workers: int = field(
        default=1, metadata={"help": "apiserver processes sharing the listen port (SO_REUSEPORT); see main.py"}
    )
    event_loop: str = field(default="uvloop", metadata={"help": "uvloop or asyncio"})
    reuse_port: bool = field(
        default=False, metadata={"help": "let other processes share the listen port (set by --workers)"}
    )
    aggregated_apis: str = field(
        default="",
        metadata={"help": "group/version=URL,... served by other servers behind the REST port (APIService), "
                  "e.g. metrics.k8s.io/v1beta1=https://127.0.0.1:10260"},
    )  # fmt: skip


def load(argv: list[str] | None = None) -> ApiServerConfig:
    try:
        from skiff_common.config import load_config
    except ImportError:  # pragma: no cover - before skiff_common.config lands
        return _argparse_fallback(argv)
    return load_config(ApiServerConfig, argv)


def _argparse_fallback(argv: list[str] | None) -> ApiServerConfig:
    import argparse
    import dataclasses

    parser = argparse.ArgumentParser(prog="skiff-apiserver")
    for f in dataclasses.fields(ApiServerConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        parser.add_argument(flag, default=default, help=f.metadata.get("help"))
    ns = parser.parse_args(argv)
    cfg = ApiServerConfig()
    for f in dataclasses.fields(ApiServerConfig):
        raw = getattr(ns, f.name)
        default = getattr(cfg, f.name)
        if isinstance(raw, str) and not isinstance(default, str):
            if isinstance(default, list):
                raw = [p.strip() for p in raw.split(",") if p.strip()]
            elif isinstance(default, bool):
                raw = raw.lower() in ("1", "true", "yes")
            elif isinstance(default, int):
                raw = int(raw)
            elif isinstance(default, float):
                raw = float(raw)
        setattr(cfg, f.name, raw)
    return cfg
