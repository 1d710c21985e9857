"""The RBAC objects kubeadm (and the add-ons it installs) create beside kube-apiserver's bootstrap policy.

Skiff's `skiff up`/`skiff join` play kubeadm's part and skiff-dns and skiff-metrics play CoreDNS's and
metrics-server's, so the apiserver reconciles these at start-up with its default policy (reconcile.py)
instead of an add-on manifest: one place, and a cluster brought up by hand gets them too. Each is the
object its upstream creates, under the same name:

* kubeadm's CoreDNS add-on: ClusterRole `system:coredns` (list/watch endpoints, services, pods,
  namespaces, endpointslices) bound to kube-system/coredns, the identity in skiff-dns's certificate;
* metrics-server's manifest: ClusterRole `system:metrics-server` (get nodes/metrics; get/list/watch
  pods and nodes) bound to kube-system/metrics-server, and `system:aggregated-metrics-reader`
  aggregated into view/edit/admin so that users who may read pods may read their metrics;
* kube-prometheus's: ClusterRole `prometheus-k8s` (get nodes/metrics, the kubelets' /metrics and
  /metrics/cadvisor; get the /metrics URL) bound to monitoring/prometheus-k8s, the identity in the
  certificate Prometheus scrapes the kubelets with (monitoring/prometheus);
* kubeadm's TLS bootstrap bindings: bootstrap tokens (group
  system:bootstrappers:kubeadm:default-node-token) may create CSRs (`kubeadm:kubelet-bootstrap`), have
  them approved (`kubeadm:node-autoapprove-bootstrap`), nodes may renew their own
  (`kubeadm:node-autoapprove-certificate-rotation`), and anyone may read kube-public/cluster-info
  (`kubeadm:bootstrap-signer-clusterinfo`) for discovery;
* kubeadm ≥1.29's `kubeadm:cluster-admins` group bound to cluster-admin (admin.conf's identity is
  still system:masters here, as kubeadm's super-admin.conf);
* kubeadm's binding of the apiserver's kubelet client (`kube-apiserver-kubelet-client`) to
  `system:kubelet-api-admin`, so kubelets in Webhook mode let the apiserver proxy logs, exec and
  port-forward by RBAC, not only through the certificate's system:masters group (which newer kubeadm
  drops from that certificate).

The CSR approval ClusterRoles (`system:certificates.k8s.io:...`) are kube-apiserver's own defaults.
"""

from __future__ import annotations

from skiff.api.rbac.v1 import rbac_pb2

from skiff_apiserver.auth.rbac.policy import (
    AUTOUPDATE,
    BOOTSTRAP_LABEL,
    CERTS,
    CORE,
    DISCOVERY,
    RBAC,
    READ,
    rule,
)

METRICS = "metrics.k8s.io"
NODE_TOKEN_GROUP = "system:bootstrappers:kubeadm:default-node-token"
CSR = "certificatesigningrequests"
_AGG = "rbac.authorization.k8s.io/aggregate-to-"

# name -> (rules, labels)
CLUSTER_ROLES: dict[str, tuple[list[rbac_pb2.PolicyRule], dict[str, str]]] = {
    "system:coredns": (
        [
            rule(("list", "watch"), CORE, ("endpoints", "services", "pods", "namespaces")),
            rule(("list", "watch"), DISCOVERY, "endpointslices"),
        ],
        {},
    ),
    "system:metrics-server": (
        [rule("get", CORE, "nodes/metrics"), rule(READ, CORE, ("pods", "nodes"))],
        {},
    ),
    "prometheus-k8s": (
        [rule("get", CORE, "nodes/metrics"), rule("get", urls=("/metrics",))],
        {},
    ),
    "system:aggregated-metrics-reader": (
        [rule(READ, METRICS, ("pods", "nodes"))],
        {_AGG + "view": "true", _AGG + "edit": "true", _AGG + "admin": "true"},
    ),
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": (
        [rule("create", CERTS, f"{CSR}/nodeclient")],
        {},
    ),
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": (
        [rule("create", CERTS, f"{CSR}/selfnodeclient")],
        {},
    ),
}


def _subject(kind: str, name: str, namespace: str = "") -> rbac_pb2.Subject:
    return rbac_pb2.Subject(
        kind=kind, name=name, namespace=namespace, api_group="" if kind == "ServiceAccount" else RBAC
    )


# binding name -> (ClusterRole, subjects)
CLUSTER_ROLE_BINDINGS: dict[str, tuple[str, list[rbac_pb2.Subject]]] = {
    "system:coredns": ("system:coredns", [_subject("ServiceAccount", "coredns", "kube-system")]),
    "system:metrics-server": ("system:metrics-server", [_subject("ServiceAccount", "metrics-server", "kube-system")]),
    "prometheus-k8s": ("prometheus-k8s", [_subject("ServiceAccount", "prometheus-k8s", "monitoring")]),
    "kubeadm:kubelet-bootstrap": ("system:node-bootstrapper", [_subject("Group", NODE_TOKEN_GROUP)]),
    "kubeadm:node-autoapprove-bootstrap": (
        "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
        [_subject("Group", NODE_TOKEN_GROUP)],
    ),
    "kubeadm:node-autoapprove-certificate-rotation": (
        "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
        [_subject("Group", "system:nodes")],
    ),
    "kubeadm:cluster-admins": ("cluster-admin", [_subject("Group", "kubeadm:cluster-admins")]),
    "kubeadm:apiserver-kubelet-client": (
        "system:kubelet-api-admin",
        [_subject("User", "kube-apiserver-kubelet-client")],
    ),
}

# (namespace, name) -> rules: namespaced Roles, each bound by a RoleBinding of the same name.
ROLES: dict[tuple[str, str], list[rbac_pb2.PolicyRule]] = {
    ("kube-public", "kubeadm:bootstrap-signer-clusterinfo"): [rule("get", CORE, "configmaps", names=("cluster-info",))],
}
ROLE_BINDINGS: dict[tuple[str, str], tuple[str, list[rbac_pb2.Subject]]] = {
    ("kube-public", "kubeadm:bootstrap-signer-clusterinfo"): (
        "kubeadm:bootstrap-signer-clusterinfo",
        [_subject("User", "system:anonymous")],
    ),
}


def _meta(obj: rbac_pb2.ClusterRole | rbac_pb2.ClusterRoleBinding | rbac_pb2.Role | rbac_pb2.RoleBinding,
          name: str, namespace: str = "") -> None:  # fmt: skip
    obj.metadata.name, obj.metadata.namespace = name, namespace
    obj.metadata.labels[BOOTSTRAP_LABEL[0]] = BOOTSTRAP_LABEL[1]
    obj.metadata.annotations[AUTOUPDATE] = "true"


def cluster_roles() -> list[rbac_pb2.ClusterRole]:
    out = []
    for name, (rules, labels) in CLUSTER_ROLES.items():
        role = rbac_pb2.ClusterRole(rules=rules)
        _meta(role, name)
        role.metadata.labels.update(labels)
        out.append(role)
    return out


def cluster_role_bindings() -> list[rbac_pb2.ClusterRoleBinding]:
    out = []
    for name, (role_name, subjects) in CLUSTER_ROLE_BINDINGS.items():
        binding = rbac_pb2.ClusterRoleBinding(subjects=subjects)
        _meta(binding, name)
        binding.role_ref.api_group, binding.role_ref.kind, binding.role_ref.name = RBAC, "ClusterRole", role_name
        out.append(binding)
    return out


def roles(table: dict[tuple[str, str], list[rbac_pb2.PolicyRule]] | None = None) -> list[rbac_pb2.Role]:
    out = []
    for (namespace, name), rules in (ROLES if table is None else table).items():
        role = rbac_pb2.Role(rules=rules)
        _meta(role, name, namespace)
        out.append(role)
    return out


def role_bindings(
    table: dict[tuple[str, str], tuple[str, list[rbac_pb2.Subject]]] | None = None,
) -> list[rbac_pb2.RoleBinding]:
    out = []
    for (namespace, name), (role_name, subjects) in (ROLE_BINDINGS if table is None else table).items():
        binding = rbac_pb2.RoleBinding(subjects=subjects)
        _meta(binding, name, namespace)
        binding.role_ref.api_group, binding.role_ref.kind, binding.role_ref.name = RBAC, "Role", role_name
        out.append(binding)
    return out
