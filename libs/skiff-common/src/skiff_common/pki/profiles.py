"""The certificates of a cluster, named and shaped as kubeadm makes them.

Identities are Kubernetes' own, so that RBAC's default bindings and the Node authorizer recognise them:

    file (under pki/)              CN                                       O                      usage
    ca                             kubernetes                               -                      CA
    apiserver                      kube-apiserver                           -                      server
    apiserver-kubelet-client       kube-apiserver-kubelet-client            system:masters         client
    admin                          kubernetes-admin                         system:masters         client
    scheduler                      system:kube-scheduler                    -                      client
    controllers                    system:kube-controller-manager           -                      client
    proxy                          system:kube-proxy                        -                      client
    dns                            system:serviceaccount:kube-system:coredns system:serviceaccounts, client
                                                                            system:serviceaccounts:kube-system
    metrics                        system:serviceaccount:kube-system:       system:serviceaccounts, client
                                   metrics-server                           system:serviceaccounts:kube-system
    prometheus                     system:serviceaccount:monitoring:        system:serviceaccounts, client
                                   prometheus-k8s                           system:serviceaccounts:monitoring
    nodes/<n>/kubelet-client       system:node:<n>                          system:nodes           client
    nodes/<n>/kubelet              system:node:<n>                          system:nodes           server
    etcd/ca                        etcd-ca                                  -                      CA
    etcd/server                    <node>                                   -                      server
    etcd/peer                      <node>                                   -                      peer
    etcd/healthcheck-client        kube-etcd-healthcheck-client             -                      client
    etcd/apiserver-client          kube-apiserver-etcd-client               -                      client

skiff-dns is CoreDNS's place, and kubeadm runs CoreDNS as the kube-system/coredns ServiceAccount bound
to the `system:coredns` ClusterRole; skiff-dns presents that same user and its groups in a certificate.
Prometheus scrapes the kubelets' HTTPS stats port as kube-prometheus runs it, the monitoring/
prometheus-k8s ServiceAccount (bound to its `prometheus-k8s` ClusterRole: get nodes/metrics), in a
certificate likewise.

The apiserver's serving names are kubeadm's: the `kubernetes` Service's names and first service IP, the
node's name and the advertised addresses, plus 127.0.0.1/localhost for the host.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from .issue import CertProfile

SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"
MASTERS = "system:masters"
NODES_GROUP = "system:nodes"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# Control-plane client identities, by the component (and file) name Skiff uses for them.
CONTROL_PLANE_CLIENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("kubernetes-admin", (MASTERS,)),
    "scheduler": ("system:kube-scheduler", ()),
    "controllers": ("system:kube-controller-manager", ()),
    "proxy": ("system:kube-proxy", ()),
    "dns": (
        "system:serviceaccount:kube-system:coredns",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system"),
    ),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", (MASTERS,)),
    # skiff-metrics, as metrics-server runs: a ServiceAccount in kube-system.
    "metrics": (
        "system:serviceaccount:kube-system:metrics-server",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system"),
    ),
    # Prometheus, as kube-prometheus runs it: reads the kubelets' /metrics and /metrics/cadvisor.
    "prometheus": (
        "system:serviceaccount:monitoring:prometheus-k8s",
        ("system:serviceaccounts", "system:serviceaccounts:monitoring"),
    ),
}


def node_user(node_name: str) -> str:
    return f"system:node:{node_name}"


def kubernetes_service_ip(service_cidr: str = SERVICE_CIDR) -> str:
    """The first address of the service range: the `kubernetes` Service's ClusterIP (10.96.0.1)."""
    return str(ipaddress.ip_network(service_cidr, strict=False).network_address + 1)


def apiserver_hosts(node_name: str, addresses: Sequence[str], service_cidr: str = SERVICE_CIDR) -> tuple[str, ...]:
    names = (
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
    )
    return tuple(dict.fromkeys([*LOCAL_HOSTS, node_name, *names, kubernetes_service_ip(service_cidr), *addresses]))


def control_plane_profiles(
    node_name: str, addresses: Sequence[str] = (), service_cidr: str = SERVICE_CIDR
) -> list[CertProfile]:
    """Every certificate of a control-plane host (kubeadm init phase certs + kubeconfig identities)."""
    etcd_hosts = tuple(dict.fromkeys([*LOCAL_HOSTS, node_name, *addresses]))
    profiles = [
        CertProfile("apiserver", "kube-apiserver", "server", hosts=apiserver_hosts(node_name, addresses, service_cidr)),
        *(CertProfile(name, cn, "client", organizations=orgs) for name, (cn, orgs) in CONTROL_PLANE_CLIENTS.items()),
        CertProfile("etcd/server", node_name, "server", hosts=etcd_hosts, ca="etcd/ca"),
        CertProfile("etcd/peer", node_name, "peer", hosts=etcd_hosts, ca="etcd/ca"),
        CertProfile("etcd/healthcheck-client", "kube-etcd-healthcheck-client", "client", ca="etcd/ca"),
        CertProfile("etcd/apiserver-client", "kube-apiserver-etcd-client", "client", ca="etcd/ca"),
        # skiff-metrics's own serving certificate: the apiserver's aggregator dials it on 127.0.0.1.
        CertProfile("metrics-serving", "metrics-server", "server", hosts=LOCAL_HOSTS),
    ]
    return profiles


def kubelet_profiles(node_name: str, addresses: Sequence[str] = ()) -> list[CertProfile]:
    """A node's two kubelet certificates: its client identity and its serving certificate. The serving
    certificate names only the node and its own addresses (127.0.0.1 only for a node whose address it
    is), so a node's certificate cannot answer for the apiserver or for another node."""
    user = node_user(node_name)
    hosts = tuple(dict.fromkeys([node_name, *(addresses or ("127.0.0.1",))]))
    return [
        CertProfile(f"nodes/{node_name}/kubelet-client", user, "client", organizations=(NODES_GROUP,)),
        CertProfile(f"nodes/{node_name}/kubelet", user, "server", organizations=(NODES_GROUP,), hosts=hosts),
    ]
