"""The per-controller roles kube-apiserver bootstraps for kube-controller-manager's
--use-service-account-credentials: `system:controller:<name>`, each bound to the ServiceAccount
`kube-system/<name>`, for the controllers Skiff runs. A controller manager that acts as each controller's
ServiceAccount (a token per controller, auth/tokens.py) then holds exactly these; acting as
`system:kube-controller-manager` alone, it holds only that role's list/watch-everything and little else.

Each is exactly Kubernetes' rule set: the gRPC API's UpdateStatus replaces a named subresource (a
namespace's `finalize`, a CSR's `approval` and `status`) as REST PUT does, authorized as verb `update`, so
namespace-controller and certificate-controller need no `patch` there.
"""

from __future__ import annotations

from skiff.api.rbac.v1 import rbac_pb2

from skiff_apiserver.auth.rbac.policy import (
    APPS,
    AUTHZ,
    AUTOSCALING,
    BATCH,
    CERTS,
    CORE,
    DISCOVERY,
    EVENTS,
    RBAC,
    READ,
    rule,
)

_EVENTS = rule(("create", "update", "patch"), (CORE, EVENTS), "events")

# ServiceAccount name -> rules
CONTROLLER_ROLES: dict[str, list[rbac_pb2.PolicyRule]] = {
    "clusterrole-aggregation-controller": [
        rule(("escalate", "get", "list", "patch", "update", "watch"), RBAC, "clusterroles"),
    ],
    "cronjob-controller": [
        rule(("get", "list", "watch", "update"), BATCH, "cronjobs"),
        rule(("create", "delete", "get", "list", "patch", "update", "watch"), BATCH, "jobs"),
        rule("update", BATCH, ("cronjobs/status", "cronjobs/finalizers")),
        rule(("delete", "list"), CORE, "pods"),
        _EVENTS,
    ],
    "daemon-set-controller": [
        rule(READ, APPS, "daemonsets"),
        rule("update", APPS, ("daemonsets/status", "daemonsets/finalizers")),
        rule(("list", "watch"), CORE, "nodes"),
        rule(("list", "watch", "create", "delete", "patch"), CORE, "pods"),
        rule("create", CORE, "pods/binding"),
        rule(("create", "delete", "get", "list", "patch", "update", "watch"), APPS, "controllerrevisions"),
        _EVENTS,
    ],
    "deployment-controller": [
        rule(("get", "list", "update", "watch"), APPS, "deployments"),
        rule("update", APPS, ("deployments/status", "deployments/finalizers")),
        rule(("create", "delete", "get", "list", "patch", "update", "watch"), APPS, "replicasets"),
        rule(("get", "list", "update", "watch"), CORE, "pods"),
        _EVENTS,
    ],
    "replicaset-controller": [
        rule(("get", "list", "update", "watch"), APPS, "replicasets"),
        rule("update", APPS, ("replicasets/status", "replicasets/finalizers")),
        rule(("create", "delete", "list", "patch", "watch"), CORE, "pods"),
        _EVENTS,
    ],
    "job-controller": [
        rule(("get", "list", "patch", "update", "watch"), BATCH, "jobs"),
        rule("update", BATCH, ("jobs/status", "jobs/finalizers")),
        rule(("create", "delete", "list", "patch", "watch"), CORE, "pods"),
        _EVENTS,
    ],
    "endpoint-controller": [
        rule(READ, CORE, ("services", "pods")),
        rule(("create", "delete", "get", "list", "update"), CORE, "endpoints"),
        rule("create", CORE, "endpoints/restricted"),
        _EVENTS,
    ],
    "endpointslice-controller": [
        rule(READ, CORE, ("services", "pods", "nodes")),
        rule(("create", "delete", "get", "list", "update"), DISCOVERY, "endpointslices"),
        _EVENTS,
    ],
    "endpointslicemirroring-controller": [
        rule(READ, CORE, ("services", "endpoints")),
        rule(("create", "delete", "get", "list", "update"), DISCOVERY, "endpointslices"),
        _EVENTS,
    ],
    "namespace-controller": [
        rule(("get", "list", "watch", "delete"), CORE, "namespaces"),
        rule("update", CORE, ("namespaces/finalize", "namespaces/status")),
        rule(("get", "list", "delete", "deletecollection"), "*", "*"),
    ],
    "node-controller": [
        rule(("get", "list", "update", "delete", "patch"), CORE, "nodes"),
        rule(("patch", "update"), CORE, "nodes/status"),
        rule(("patch", "update"), CORE, "pods/status"),
        rule(("list", "delete"), CORE, "pods"),
        _EVENTS,
    ],
    "generic-garbage-collector": [rule(("get", "list", "watch", "patch", "update", "delete"), "*", "*")],
    "service-account-controller": [rule("create", CORE, "serviceaccounts"), _EVENTS],
    "root-ca-cert-publisher": [rule(("create", "update"), CORE, "configmaps"), _EVENTS],
    "resourcequota-controller": [
        rule(("list", "watch"), "*", "*"),
        rule("update", CORE, "resourcequotas/status"),
        _EVENTS,
    ],
    "certificate-controller": [
        rule(("get", "list", "watch", "delete"), CERTS, "certificatesigningrequests"),
        rule("update", CERTS, ("certificatesigningrequests/status", "certificatesigningrequests/approval")),
        rule(
            "approve",
            CERTS,
            "signers",
            names=(
                "kubernetes.io/kube-apiserver-client-kubelet",
                "kubernetes.io/kubelet-serving",
                "kubernetes.io/legacy-unknown",
            ),
        ),
        rule(
            "sign",
            CERTS,
            "signers",
            names=(
                "kubernetes.io/kube-apiserver-client-kubelet",
                "kubernetes.io/kube-apiserver-client",
                "kubernetes.io/kubelet-serving",
                "kubernetes.io/legacy-unknown",
            ),
        ),
        rule("create", AUTHZ, "subjectaccessreviews"),
        _EVENTS,
    ],
    "horizontal-pod-autoscaler": [
        rule(READ, AUTOSCALING, "horizontalpodautoscalers"),
        rule("update", AUTOSCALING, "horizontalpodautoscalers/status"),
        rule(("get", "update"), "*", "*/scale"),
        rule("list", CORE, "pods"),
        rule("list", "metrics.k8s.io", "pods"),
        rule(("get", "list"), "custom.metrics.k8s.io", "*"),
        rule(("get", "list"), "external.metrics.k8s.io", "*"),
        _EVENTS,
    ],
}

# Controllers whose rights are namespaced Roles in Kubernetes ((namespace, role name) -> rules), each
# bound by a RoleBinding of the same name to kube-system/<ServiceAccount>.
CONTROLLER_NAMESPACED_ROLES: dict[tuple[str, str], list[rbac_pb2.PolicyRule]] = {
    ("kube-system", "bootstrap-signer"): [rule(READ, CORE, "secrets")],
    ("kube-public", "bootstrap-signer"): [
        rule(READ, CORE, "configmaps"),
        rule("update", CORE, "configmaps", names=("cluster-info",)),
        _EVENTS,
    ],
    ("kube-system", "token-cleaner"): [rule(("delete", "get", "list", "watch"), CORE, "secrets"), _EVENTS],
}


def roles() -> list[rbac_pb2.Role]:
    from skiff_apiserver.auth.rbac import addons

    table = {(ns, f"system:controller:{sa}"): rules for (ns, sa), rules in CONTROLLER_NAMESPACED_ROLES.items()}
    return addons.roles(table)


def role_bindings() -> list[rbac_pb2.RoleBinding]:
    from skiff_apiserver.auth.rbac import addons

    table = {
        (ns, f"system:controller:{sa}"): (
            f"system:controller:{sa}",
            [rbac_pb2.Subject(kind="ServiceAccount", name=sa, namespace="kube-system")],
        )
        for (ns, sa) in CONTROLLER_NAMESPACED_ROLES
    }
    return addons.role_bindings(table)


def cluster_roles() -> list[rbac_pb2.ClusterRole]:
    from skiff_apiserver.auth.rbac.policy import AUTOUPDATE, BOOTSTRAP_LABEL

    out = []
    for sa, rules in CONTROLLER_ROLES.items():
        role = rbac_pb2.ClusterRole(rules=rules)
        role.metadata.name = f"system:controller:{sa}"
        role.metadata.labels[BOOTSTRAP_LABEL[0]] = BOOTSTRAP_LABEL[1]
        role.metadata.annotations[AUTOUPDATE] = "true"
        out.append(role)
    return out


def cluster_role_bindings() -> list[rbac_pb2.ClusterRoleBinding]:
    from skiff_apiserver.auth.rbac.policy import AUTOUPDATE, BOOTSTRAP_LABEL

    out = []
    for sa in CONTROLLER_ROLES:
        b = rbac_pb2.ClusterRoleBinding()
        b.metadata.name = f"system:controller:{sa}"
        b.metadata.labels[BOOTSTRAP_LABEL[0]] = BOOTSTRAP_LABEL[1]
        b.metadata.annotations[AUTOUPDATE] = "true"
        b.role_ref.api_group, b.role_ref.kind, b.role_ref.name = RBAC, "ClusterRole", f"system:controller:{sa}"
        b.subjects.add(kind="ServiceAccount", name=sa, namespace="kube-system")
        out.append(b)
    return out
