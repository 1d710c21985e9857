"""The command line of each process of a local cluster, in start order.

This is the one place that knows how the five services and etcd are wired together: which address
each listens on, which certificate each presents, and where each keeps its state. The same wiring is
written for containers in docker-compose.yml and for Kubernetes in helm/.
"""

from __future__ import annotations

import ipaddress
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from skiff_common.encryptionconfig import ensure_encryption_config
from skiff_common.grpcutil import TLSConfig

from . import kubedns, nodenet
from .layout import ClusterLayout
from .sakey import ensure_service_account_key

# kubeadm's authorizers: a kubelet is authorized by the Node authorizer (and limited by NodeRestriction
# admission), everyone else by RBAC; each component's identity and roles are in docs/security.md.
AUTHORIZATION_MODE = "Node,RBAC"
COMPONENTS = ("apiserver", "scheduler", "controllers", "kubelet", "proxy", "dns", "metrics")
# The apiserver's default --service-cluster-ip-range; the proxy drops traffic to its unallocated addresses.
SERVICE_CIDR = "10.96.0.0/16"
# etcd has a CA of its own (in <pki>/etcd), as in Kubernetes: only the apiserver (and etcd's own health
# check) holds a client certificate etcd trusts, so no other component's certificate opens the store.
# Every certificate's identity and usage is listed in skiff_common.pki.profiles.
ETCD_PKI_SUBDIR = "etcd"


@dataclass(frozen=True)
class Component:
    name: str
    argv: list[str]


def bin_path(program: str) -> str:
    """A console script of this environment (the venv's bin), else one on PATH."""
    local = Path(sys.executable).parent / program
    if local.exists():
        return str(local)
    found = shutil.which(program)
    if not found:
        raise SystemExit(f"error: {program} is not installed (run `make up` or `uv sync`)")
    return found


def node_component(layout: ClusterLayout, name: str, argv: list[str]) -> Component:
    """A node process (runtime, kubelet, proxy), in the node's network namespace if it has one."""
    return Component(name, nodenet.in_netns(layout.netns, argv))


def tls_flags(tls: TLSConfig, *, server: bool) -> list[str]:
    if server:
        return [f"--tls-cert-file={tls.cert_file}", f"--tls-key-file={tls.key_file}", f"--client-ca-file={tls.ca_file}"]
    return [f"--tls-cert-file={tls.cert_file}", f"--tls-key-file={tls.key_file}", f"--tls-ca-file={tls.ca_file}"]


def etcd_peer_url(layout: ClusterLayout) -> str:
    return f"https://127.0.0.1:{layout.etcd_peer_port}"


def etcd(
    layout: ClusterLayout,
    tls: TLSConfig,
    peer_tls: TLSConfig,
    *,
    name: str = "skiff",
    initial_cluster: str = "",
) -> Component:
    """etcd with mutual TLS on both ports: clients need a certificate from etcd's CA, and so do peers
    (each member's peer certificate is both server and client, as kubeadm's etcd/peer).

    The first member starts a new cluster of itself; a stacked member joined later (controlplane.py) is
    given the `initial_cluster` that `etcdctl member add` answered and starts as part of an existing one."""
    client = f"https://{layout.etcd_endpoint}"
    peer = etcd_peer_url(layout)
    joining = ["--initial-cluster-state=existing"] if initial_cluster else []
    return Component(
        "etcd",
        [
            bin_path("etcd"),
            f"--name={name}",
            f"--data-dir={layout.etcd_dir}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster={initial_cluster or f'{name}={peer}'}",
            *joining,
            f"--cert-file={tls.cert_file}",
            f"--key-file={tls.key_file}",
            f"--trusted-ca-file={tls.ca_file}",
            "--client-cert-auth",
            f"--peer-cert-file={peer_tls.cert_file}",
            f"--peer-key-file={peer_tls.key_file}",
            f"--peer-trusted-ca-file={peer_tls.ca_file}",
            "--peer-client-cert-auth",
            "--log-level=warn",
        ],
    )


def runtime(layout: ClusterLayout) -> Component:
    """The runtime in the node's network namespace (a worker's own, else the host's): its CNI bridge, pod
    routes and the pods' veths are made there."""
    return node_component(
        layout,
        "runtime",
        [
            bin_path("skiff-runtime"),
            f"--listen=unix://{layout.runtime_socket}",
            f"--state-root={layout.runtime_root}",
            f"--run-root={layout.runtime_state}",
            f"--bridge={layout.bridge}",
            f"--pod-cidr={layout.pod_cidr}",
            f"--registry-config-dir={layout.registry_config_dir}",
            f"--metrics-address={layout.metrics_address('runtime')}",
            *([] if layout.ip_masq else ["--ip-masq=false"]),  # pods reach other nodes' pods unNATed
        ],
    )


def apiserver(
    layout: ClusterLayout, tls: TLSConfig, etcd_tls: TLSConfig, kubelet_client: TLSConfig | None = None
) -> Component:
    kubelet_flags = (
        [f"--kubelet-client-certificate={kubelet_client.cert_file}", f"--kubelet-client-key={kubelet_client.key_file}"]
        if kubelet_client
        else []
    )
    return Component(
        "apiserver",
        [
            bin_path("skiff-apiserver"),
            f"--listen={layout.apiserver_listen}",
            f"--secure-port={layout.rest_port}",
            f"--etcd-endpoints={','.join(layout.etcd_endpoints)}",
            f"--etcd-cafile={etcd_tls.ca_file}",
            f"--etcd-certfile={etcd_tls.cert_file}",
            f"--etcd-keyfile={etcd_tls.key_file}",
            f"--metrics-address={layout.metrics_address('apiserver')}",
            f"--advertise-address={advertise_address(layout)}",  # pods reach the API there (kubernetes Service)
            *(["--advertise-grpc"] if layout.node_ip else []),  # other nodes' kubelets and proxies dial it
            f"--encryption-provider-config={ensure_encryption_config(layout.pki_dir / 'encryption.yaml')}",
            "--pod-security-default-warn=baseline",
            f"--authorization-mode={AUTHORIZATION_MODE}",
            f"--service-account-signing-key-file={ensure_service_account_key(layout.pki_dir / 'sa.key')}",
            f"--audit-log-path={layout.state_dir / 'audit' / 'audit.log'}",  # Metadata level for every request
            # per-client limits for users; the components have their own pool, system:masters is exempt
            "--client-qps=25",
            "--client-burst=100",
            "--aggregated-apis="  # skiff-metrics serves both (custom metrics once given a Prometheus)
            f"metrics.k8s.io/v1beta1=https://{layout.metrics_address('metrics-api')},"
            f"custom.metrics.k8s.io/v1beta1=https://{layout.metrics_address('metrics-api')},"
            f"custom.metrics.k8s.io/v1beta2=https://{layout.metrics_address('metrics-api')},"
            f"external.metrics.k8s.io/v1beta1=https://{layout.metrics_address('metrics-api')}",
            *tls_flags(tls, server=True),
            *kubelet_flags,
        ],
    )


def advertise_address(layout: ClusterLayout) -> str:
    """Where pods (the `kubernetes` Service) and other nodes reach the control plane: the node bridge's
    host address in a multi-node cluster (every control-plane member's, on its own ports), else the pod
    bridge's gateway."""
    return layout.node_ip or layout.pod_gateway


def scheduler(layout: ClusterLayout, tls: TLSConfig) -> Component:
    """With several control-plane members the schedulers elect one leader on their Lease (the others
    stand by); a lone scheduler does not, so its restart never waits out the previous holder's lease."""
    return Component(
        "scheduler",
        [
            bin_path("skiff-scheduler"),
            f"--apiserver={layout.apiserver_address}",
            f"--metrics-address={layout.metrics_address('scheduler')}",
            *(["--leader-elect"] if layout.apiserver_peers else []),
            *tls_flags(tls, server=False),
        ],
    )


def controllers(layout: ClusterLayout, tls: TLSConfig) -> Component:
    """The controller manager; its CSR signer issues node certificates with the cluster CA. Its own
    certificate (system:kube-controller-manager) only reads and obtains tokens: each controller writes as
    its kube-system ServiceAccount (--use-service-account-credentials), as kubeadm runs it."""
    return Component(
        "controllers",
        [
            bin_path("skiff-controllers"),
            f"--apiserver={layout.apiserver_address}",
            f"--metrics-api-server={layout.rest_url}",  # the HPA reads metrics.k8s.io there
            f"--metrics-address={layout.metrics_address('controllers')}",
            f"--cluster-signing-cert-file={layout.pki_dir / 'ca.crt'}",
            f"--cluster-signing-key-file={layout.pki_dir / 'ca.key'}",
            "--use-service-account-credentials",
            *tls_flags(tls, server=False),
        ],
    )


def kubelet(layout: ClusterLayout, tls: TLSConfig, serving: TLSConfig | None = None) -> Component:
    """The kubelet dials the apiserver as system:node:<name> (`tls`, clientAuth) and serves logs and exec
    with its own serving certificate (`serving`, serverAuth, its node's names and addresses); with it its
    stats port (--metrics-address) is HTTPS, every caller authenticated and authorized (nodes/metrics...)."""
    serving_flags = (
        [f"--tls-serving-cert-file={serving.cert_file}", f"--tls-serving-key-file={serving.key_file}"]
        if serving
        else []
    )
    return node_component(
        layout,
        "kubelet",
        [
            bin_path("skiff-kubelet"),
            f"--node-name={layout.node_name}",
            f"--apiserver={layout.apiserver_address}",
            f"--runtime-endpoint=unix://{layout.runtime_socket}",
            f"--listen={layout.local_host}:{layout.kubelet_port}",
            *([f"--node-ip={layout.node_ip}"] if layout.netns else []),  # a worker's address on the node bridge
            f"--pod-cidr={layout.pod_cidr}",
            f"--cluster-dns={kubedns.cluster_dns_ip(SERVICE_CIDR)}",  # ClusterFirst pods ask kube-dns
            f"--root-dir={layout.kubelet_root}",
            f"--pod-log-dir={layout.pod_log_dir}",
            f"--cgroup-root={layout.cgroup_root}",
            f"--metrics-address={layout.metrics_address('kubelet')}",
            *("--seccomp-default", "--pod-max-pids=4096"),  # container hardening (issue #11)
            "--authorization-mode=Webhook",  # the kubelet's API authorizes callers by SubjectAccessReview
            *tls_flags(tls, server=False),
            *serving_flags,
        ],
    )


def proxy(layout: ClusterLayout, tls: TLSConfig) -> Component:
    """The node proxy programs the host's network namespace, where pods' traffic arrives over the
    cluster bridge: only traffic from that bridge (and the host's own) is proxied, NodePorts are served
    on the bridge's gateway address (the node's address as pods see it), and the table is named per
    cluster so that test clusters beside each other keep to their own rules."""
    gateway = str(next(ipaddress.ip_network(layout.pod_cidr).hosts()))
    nodeport = layout.node_ip if layout.netns else gateway  # a worker: its address on the node bridge
    return node_component(
        layout,
        "proxy",
        [
            bin_path("skiff-proxy"),
            f"--apiserver={layout.apiserver_address}",
            f"--cluster-cidr={layout.pod_cidr}",
            f"--service-cidr={SERVICE_CIDR}",
            f"--nodeport-addresses={nodeport}",
            f"--pod-bridge={layout.bridge}",
            f"--table={layout.proxy_table}",
            f"--healthz-address={layout.metrics_address('proxy-healthz')}",
            f"--metrics-address={layout.metrics_address('proxy')}",
            *tls_flags(tls, server=False),
        ],
    )


def dns(layout: ClusterLayout, tls: TLSConfig) -> Component:
    """skiff-dns on 127.0.0.1 for the host, and on port 53 of the pod bridge's gateway for pods (bound
    with IP_FREEBIND: the bridge appears with the first pod), where the kube-dns Endpoints point."""
    return Component(
        "dns",
        [
            bin_path("skiff-dns"),
            f"--apiserver={layout.apiserver_address}",
            f"--listen={layout.dns_address},{layout.pod_gateway}:53"
            + (f",{layout.node_ip}:53" if layout.node_cidr else ""),  # other nodes' pods ask there
            "--freebind",
            f"--health-address={layout.dns_health_address}",
            f"--metrics-address={layout.metrics_address('dns')}",
            *tls_flags(tls, server=False),
        ],
    )


def metrics(layout: ClusterLayout, tls: TLSConfig, serving: TLSConfig) -> Component:
    """skiff-metrics (metrics-server): scrapes the kubelet's --metrics-address over HTTPS with its client
    certificate (system:metrics-server: get nodes/metrics), serves metrics.k8s.io to the
    apiserver's aggregator (--aggregated-apis above); given a Prometheus and a rule file, also custom and
    external metrics (prometheus-adapter)."""
    return Component(
        "metrics",
        [
            bin_path("skiff-metrics"),
            f"--apiserver={layout.apiserver_address}",
            f"--listen={layout.metrics_address('metrics-api')}",
            f"--kubelet-port={layout.metrics_ports['kubelet']}",
            f"--metrics-address={layout.metrics_address('metrics')}",
            *tls_flags(tls, server=False),
            f"--tls-serving-cert-file={serving.cert_file}",
            f"--tls-serving-key-file={serving.key_file}",
            *(
                [f"--prometheus-url={layout.prometheus_url}", f"--custom-metrics-rules={layout.custom_metrics_rules}"]
                if layout.prometheus_url
                else []
            ),
        ],
    )


def device_plugin(layout: ClusterLayout) -> Component:
    """The sample device plugin (examples/device-plugin): `layout.fake_gpus` example.com/gpu devices,
    registered with the kubelet on its device-plugins socket (`skiff up --fake-gpus N`)."""
    script = Path(__file__).resolve().parents[4] / "examples" / "device-plugin" / "fake_gpu_plugin.py"
    return Component(
        "device-plugin",
        [
            sys.executable,
            str(script),
            f"--plugin-dir={layout.kubelet_root}/device-plugins",
            f"--devices={layout.fake_gpus}",
        ],
    )
