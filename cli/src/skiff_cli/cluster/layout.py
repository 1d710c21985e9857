"""Where a local cluster keeps its files and which ports it uses.

One dataclass names every path and port, so that `skiff up`, `skiff down` and the end-to-end tests
agree on them, and so that a test can run a whole cluster in a temporary folder on free ports beside a
developer's own cluster.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

LAYOUT_FILE = "layout.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ClusterLayout:
    state_dir: Path = Path("/var/lib/skiff")
    node_name: str = "skiff-node"
    # Where the apiserver's gRPC API is reached (a joined node: the control plane's address).
    apiserver_host: str = "127.0.0.1"
    apiserver_port: int = 6443
    # The Kubernetes REST API (kubectl, client libraries): the apiserver's --secure-port.
    rest_port: int = 6444
    etcd_client_port: int = 2379
    etcd_peer_port: int = 2380
    kubelet_port: int = 10250
    registry_port: int = 5000
    # skiff-dns (UDP and TCP) and its /healthz + /readyz, on 127.0.0.1.
    dns_port: int = 10053
    dns_health_port: int = 10054
    # Metrics endpoints, one per service, all on 127.0.0.1.
    metrics_ports: dict[str, int] = field(
        default_factory=lambda: {
            "apiserver": 9101,
            "scheduler": 9102,
            "controllers": 9103,
            "kubelet": 9104,
            "runtime": 9105,
            "proxy": 9106,
            "proxy-healthz": 10256,  # kube-proxy's /healthz port
            "dns": 9107,
            "metrics": 9108,
            "metrics-api": 10260,  # skiff-metrics' metrics.k8s.io, behind the apiserver's aggregator
        }
    )
    pod_cidr: str = "10.88.0.0/16"
    bridge: str = "skiff0"
    # The cgroup under which every pod's cgroup is made; removed whole by `skiff down`.
    cgroup_root: str = "skiff"
    # Fake example.com/gpu devices advertised by the sample device plugin (`skiff up --fake-gpus N`).
    fake_gpus: int = 0
    # Custom and external metrics (prometheus-adapter's role): skiff-metrics queries this Prometheus with
    # this rule file (`skiff up --prometheus-url URL --custom-metrics-rules FILE`); empty: none.
    prometheus_url: str = ""
    custom_metrics_rules: str = ""
    # An HA control plane (cluster/controlplane.py): the other members' gRPC API and etcd client
    # addresses, so every client of this layout dials all apiservers and the apiserver all etcd members.
    apiserver_peers: list[str] = field(default_factory=list)
    etcd_peers: list[str] = field(default_factory=list)
    # The node network of a multi-node cluster (nodenet.py): the node bridge's range (empty: one node,
    # everything on 127.0.0.1), this node's address on it (the control-plane node: the host side, .1),
    # and for a worker the network namespace its runtime, kubelet and proxy run in.
    node_cidr: str = ""
    node_ip: str = ""
    netns: str = ""
    # The CNI bridge's ipMasq: off in a multi-node cluster (pods reach pods on other nodes unNATed).
    ip_masq: bool = True

    @classmethod
    def ephemeral(cls, state_dir: Path, suffix: str, pod_subnet: int) -> ClusterLayout:
        """A layout on free ports with its own bridge, pod CIDR and cgroup root (for tests)."""
        return cls(
            state_dir=state_dir,
            node_name=f"node-{suffix}",
            apiserver_port=free_port(),
            rest_port=free_port(),
            etcd_client_port=free_port(),
            etcd_peer_port=free_port(),
            kubelet_port=free_port(),
            registry_port=free_port(),
            dns_port=free_port(),
            dns_health_port=free_port(),
            metrics_ports={name: free_port() for name in cls().metrics_ports},
            pod_cidr=f"10.{pod_subnet}.0.0/16",
            bridge=f"sk{suffix}"[:15],
            cgroup_root=f"skiff-{suffix}",
        )

    def save(self) -> None:
        """Record the layout in its state folder, so that `skiff down --state-dir` later acts on exactly
        this cluster's bridge, cgroup root and processes, not on the defaults."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self) | {"state_dir": str(self.state_dir)}
        (self.state_dir / LAYOUT_FILE).write_text(json.dumps(data, indent=2) + "\n")

    @classmethod
    def load(cls, state_dir: Path) -> ClusterLayout:
        """The layout recorded in `state_dir` by `skiff up`; the defaults there if none was recorded."""
        try:
            data = json.loads((state_dir / LAYOUT_FILE).read_text())
        except (OSError, ValueError):
            return cls(state_dir=state_dir)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**(known | {"state_dir": state_dir}))

    @property
    def proxy_table(self) -> str:
        """The node proxy's nftables table: skiff-proxy, or per bridge for a cluster beside the default."""
        return "skiff-proxy" if self.bridge == "skiff0" else f"skiff-proxy-{self.bridge}"

    @property
    def pki_dir(self) -> Path:
        return self.state_dir / "pki"

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def pid_dir(self) -> Path:
        return self.state_dir / "pids"

    @property
    def etcd_dir(self) -> Path:
        return self.state_dir / "etcd"

    @property
    def runtime_root(self) -> Path:
        return self.state_dir / "runtime"

    @property
    def runtime_state(self) -> Path:
        return self.state_dir / "run"

    @property
    def runtime_socket(self) -> Path:
        return self.runtime_state / "runtime.sock"

    @property
    def registry_config_dir(self) -> Path:
        """containerd-style hosts.toml files: docker.io is mirrored by the local registry."""
        return self.state_dir / "registry-hosts"

    @property
    def kubelet_root(self) -> Path:
        return self.state_dir / "kubelet"

    @property
    def pod_log_dir(self) -> Path:
        return self.state_dir / "pods"

    @property
    def apiserver_address(self) -> str:
        """Where clients reach the API: this layout's apiserver, then every other control-plane member's
        (comma-separated; the client channel fails over between them, skiff_common.grpcutil.channel)."""
        return ",".join([self.apiserver_listen, *self.apiserver_peers])

    @property
    def apiserver_listen(self) -> str:
        """This layout's own apiserver (its --listen)."""
        return f"{self.apiserver_host}:{self.apiserver_port}"

    @property
    def rest_url(self) -> str:
        return f"https://127.0.0.1:{self.rest_port}"

    @property
    def advertise_host(self) -> str:
        """Where other nodes reach this one: its node-bridge address, or 127.0.0.1 for a lone node."""
        return self.node_ip or "127.0.0.1"

    @property
    def local_host(self) -> str:
        """Where this node's own endpoints (metrics, health, the kubelet) listen: 127.0.0.1, except in a
        worker's namespace, where 127.0.0.1 is the namespace's own and the host could not reach it."""
        return self.node_ip if self.netns else "127.0.0.1"

    @property
    def node_bridge(self) -> str:
        """The node bridge on the host (multi-node), named after the pod bridge."""
        return f"{self.bridge[:14]}n"

    @property
    def node_veth(self) -> str:
        """A worker's veth end in the node bridge (the other end is eth0 in its namespace)."""
        return f"v{self.bridge}"[:15]

    @property
    def advertised_apiserver_address(self) -> str:
        """The gRPC API as other nodes dial it (published in cluster-info)."""
        return f"{self.advertise_host}:{self.apiserver_port}"

    @property
    def registry_address(self) -> str:
        return f"{self.advertise_host}:{self.registry_port}"

    @property
    def join_address(self) -> str:
        """Where `skiff join` finds the cluster: the Kubernetes API (REST, the apiserver's secure port,
        which kubeadm's 6443 is), whose kube-public/cluster-info answers without credentials; on the node
        bridge in a multi-node cluster, so that a worker's namespace reaches it."""
        return f"{self.advertise_host}:{self.rest_port}"

    @property
    def etcd_endpoint(self) -> str:
        return f"127.0.0.1:{self.etcd_client_port}"

    @property
    def etcd_endpoints(self) -> list[str]:
        """Every etcd member's client address, this layout's own first (the apiserver's --etcd-endpoints)."""
        return [self.etcd_endpoint, *self.etcd_peers]

    def metrics_address(self, component: str) -> str:
        return f"{self.local_host}:{self.metrics_ports[component]}"

    @property
    def dns_address(self) -> str:
        return f"{self.local_host}:{self.dns_port}"

    @property
    def dns_health_address(self) -> str:
        return f"{self.local_host}:{self.dns_health_port}"

    @property
    def pod_gateway(self) -> str:
        """The pod bridge's own address (the CNI bridge plugin's gateway: the first host of the pod CIDR)."""
        return str(ipaddress.ip_network(self.pod_cidr, strict=False).network_address + 1)
