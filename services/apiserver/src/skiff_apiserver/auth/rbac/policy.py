"""The default ClusterRoles and bindings kube-apiserver bootstraps (its `bootstrappolicy`), as data.

Every object carries the label `kubernetes.io/bootstrapping: rbac-defaults` and the annotation
`rbac.authorization.kubernetes.io/autoupdate: "true"`; reconcile.py puts them back at start-up unless an
administrator set autoupdate to "false". The user-facing roles admin, edit and view are aggregated from
`system:aggregate-to-*` (and from any ClusterRole an administrator labels the same way).

The per-controller `system:controller:*` roles are in controllers.py; cloud- and CSI-specific roles are
not bootstrapped.
"""

from __future__ import annotations

from skiff.api.rbac.v1 import rbac_pb2

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE = READ + WRITE
CORE, APPS, BATCH, AUTOSCALING, POLICY = "", "apps", "batch", "autoscaling", "policy"
EXTENSIONS, NETWORKING, COORDINATION = "extensions", "networking.k8s.io", "coordination.k8s.io"
DISCOVERY, STORAGE, RBAC = "discovery.k8s.io", "storage.k8s.io", "rbac.authorization.k8s.io"
AUTHN, AUTHZ, CERTS = "authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io"
EVENTS = "events.k8s.io"

BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
AGG = "rbac.authorization.k8s.io/aggregate-to-"


def rule(
    verbs: tuple[str, ...] | str,
    groups: tuple[str, ...] | str = (),
    resources: tuple[str, ...] | str = (),
    names: tuple[str, ...] = (),
    urls: tuple[str, ...] = (),
) -> rbac_pb2.PolicyRule:
    def tup(v: tuple[str, ...] | str) -> tuple[str, ...]:
        return (v,) if isinstance(v, str) else v

    return rbac_pb2.PolicyRule(
        verbs=tup(verbs), api_groups=tup(groups), resources=tup(resources), resource_names=names, non_resource_urls=urls
    )


def _events() -> rbac_pb2.PolicyRule:
    return rule(("create", "update", "patch"), (CORE, EVENTS), "events")


_HEALTH = ("/healthz", "/livez", "/readyz", "/version", "/version/")

# name -> (rules, extra labels, aggregate-to label selected by this role's aggregationRule or "")
_ROLES: dict[str, tuple[list[rbac_pb2.PolicyRule], dict[str, str], str]] = {
    "cluster-admin": ([rule("*", "*", "*"), rule("*", urls=("*",))], {}, ""),
    "admin": ([], {}, "admin"),
    "edit": ([], {AGG + "admin": "true"}, "edit"),
    "view": ([], {AGG + "edit": "true"}, "view"),
    "system:aggregate-to-admin": (
        [rule("create", AUTHZ, "localsubjectaccessreviews"), rule(READ_WRITE, RBAC, ("rolebindings", "roles"))],
        {AGG + "admin": "true"},
        "",
    ),
    "system:aggregate-to-edit": (
        [
            rule(
                READ, CORE, ("pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy")
            ),
            rule("impersonate", CORE, "serviceaccounts"),
            rule(WRITE, CORE, ("pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy")),
            rule("create", CORE, "pods/eviction"),
            rule(
                WRITE,
                CORE,
                (
                    "configmaps",
                    "events",
                    "persistentvolumeclaims",
                    "replicationcontrollers",
                    "replicationcontrollers/scale",
                    "secrets",
                    "serviceaccounts",
                    "services",
                    "services/proxy",
                ),
            ),
            rule("create", CORE, "serviceaccounts/token"),
            rule(
                WRITE,
                APPS,
                (
                    "daemonsets",
                    "deployments",
                    "deployments/rollback",
                    "deployments/scale",
                    "replicasets",
                    "replicasets/scale",
                    "statefulsets",
                    "statefulsets/scale",
                ),
            ),
            rule(WRITE, AUTOSCALING, "horizontalpodautoscalers"),
            rule(WRITE, BATCH, ("cronjobs", "jobs")),
            rule(
                WRITE,
                EXTENSIONS,
                (
                    "daemonsets",
                    "deployments",
                    "deployments/rollback",
                    "deployments/scale",
                    "ingresses",
                    "networkpolicies",
                    "replicasets",
                    "replicasets/scale",
                    "replicationcontrollers/scale",
                ),
            ),
            rule(WRITE, POLICY, "poddisruptionbudgets"),
            rule(WRITE, NETWORKING, ("ingresses", "networkpolicies")),
            rule(READ_WRITE, COORDINATION, "leases"),
        ],
        {AGG + "edit": "true"},
        "",
    ),
    "system:aggregate-to-view": (
        [
            rule(
                READ,
                CORE,
                (
                    "configmaps",
                    "endpoints",
                    "persistentvolumeclaims",
                    "persistentvolumeclaims/status",
                    "pods",
                    "replicationcontrollers",
                    "replicationcontrollers/scale",
                    "serviceaccounts",
                    "services",
                    "services/status",
                ),
            ),
            rule(
                READ,
                CORE,
                (
                    "bindings",
                    "events",
                    "limitranges",
                    "namespaces/status",
                    "pods/log",
                    "pods/status",
                    "replicationcontrollers/status",
                    "resourcequotas",
                    "resourcequotas/status",
                ),
            ),
            rule(READ, CORE, "namespaces"),
            rule(READ, DISCOVERY, "endpointslices"),
            rule(
                READ,
                APPS,
                (
                    "controllerrevisions",
                    "daemonsets",
                    "daemonsets/status",
                    "deployments",
                    "deployments/scale",
                    "deployments/status",
                    "replicasets",
                    "replicasets/scale",
                    "replicasets/status",
                    "statefulsets",
                    "statefulsets/scale",
                    "statefulsets/status",
                ),
            ),
            rule(READ, AUTOSCALING, ("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
            rule(READ, BATCH, ("cronjobs", "cronjobs/status", "jobs", "jobs/status")),
            rule(
                READ,
                EXTENSIONS,
                (
                    "daemonsets",
                    "daemonsets/status",
                    "deployments",
                    "deployments/scale",
                    "deployments/status",
                    "ingresses",
                    "ingresses/status",
                    "networkpolicies",
                    "replicasets",
                    "replicasets/scale",
                    "replicasets/status",
                    "replicationcontrollers/scale",
                ),
            ),
            rule(READ, POLICY, ("poddisruptionbudgets", "poddisruptionbudgets/status")),
            rule(READ, NETWORKING, ("ingresses", "ingresses/status", "networkpolicies")),
        ],
        {AGG + "view": "true"},
        "",
    ),
    "system:auth-delegator": (
        [rule("create", AUTHN, "tokenreviews"), rule("create", AUTHZ, "subjectaccessreviews")],
        {},
        "",
    ),
    "system:basic-user": (
        [
            rule("create", AUTHZ, ("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
            rule("create", AUTHN, "selfsubjectreviews"),
        ],
        {},
        "",
    ),
    "system:discovery": (
        [
            rule(
                "get",
                urls=(
                    "/api",
                    "/api/*",
                    "/apis",
                    "/apis/*",
                    "/healthz",
                    "/livez",
                    "/openapi",
                    "/openapi/*",
                    "/readyz",
                    "/version",
                    "/version/",
                ),
            )
        ],
        {},
        "",
    ),
    "system:public-info-viewer": ([rule("get", urls=_HEALTH)], {}, ""),
    "system:monitoring": (
        [
            rule(
                "get",
                urls=(
                    "/healthz",
                    "/healthz/*",
                    "/livez",
                    "/livez/*",
                    "/metrics",
                    "/metrics/slis",
                    "/readyz",
                    "/readyz/*",
                ),
            )
        ],
        {},
        "",
    ),
    "system:kube-controller-manager": (
        [
            _events(),
            rule("create", COORDINATION, "leases"),
            rule(("get", "update"), COORDINATION, "leases", names=("kube-controller-manager",)),
            rule("create", CORE, ("secrets", "serviceaccounts")),
            rule("delete", CORE, "secrets"),
            rule("get", CORE, ("configmaps", "namespaces", "secrets", "serviceaccounts")),
            rule("update", CORE, ("secrets", "serviceaccounts")),
            rule("create", AUTHN, "tokenreviews"),
            rule("create", AUTHZ, "subjectaccessreviews"),
            rule(("list", "watch"), "*", "*"),
            rule("create", CORE, "serviceaccounts/token"),
        ],
        {},
        "",
    ),
    "system:kube-scheduler": (
        [
            _events(),
            rule("create", COORDINATION, "leases"),
            rule(("get", "update"), COORDINATION, "leases", names=("kube-scheduler",)),
            rule(READ, CORE, "nodes"),
            rule(("delete", "get", "list", "watch"), CORE, "pods"),
            rule("create", CORE, ("bindings", "pods/binding")),
            rule(("patch", "update"), CORE, "pods/status"),
            rule(READ, CORE, ("replicationcontrollers", "services")),
            rule(READ, (APPS, EXTENSIONS), "replicasets"),
            rule(READ, APPS, "statefulsets"),
            rule(READ, POLICY, "poddisruptionbudgets"),
            rule(READ, CORE, ("persistentvolumeclaims", "persistentvolumes")),
            rule("create", AUTHN, "tokenreviews"),
            rule("create", AUTHZ, "subjectaccessreviews"),
            rule(READ, STORAGE, "csinodes"),
            rule(READ, CORE, "namespaces"),
            rule(READ, STORAGE, "csidrivers"),
            rule(READ, STORAGE, "csistoragecapacities"),
        ],
        {},
        "",
    ),
    "system:volume-scheduler": (
        [
            rule(("get", "list", "patch", "update", "watch"), CORE, ("persistentvolumes", "persistentvolumeclaims")),
            rule(READ, STORAGE, "storageclasses"),
        ],
        {},
        "",
    ),
    "system:kube-dns": ([rule(("list", "watch"), CORE, ("endpoints", "services"))], {}, ""),
    "system:node-proxier": (
        [
            rule(("list", "watch"), CORE, ("endpoints", "services")),
            rule(READ, CORE, "nodes"),
            _events(),
            rule(("list", "watch"), DISCOVERY, "endpointslices"),
        ],
        {},
        "",
    ),
    "system:node-bootstrapper": (
        [rule(("create", "get", "list", "watch"), CERTS, "certificatesigningrequests")],
        {},
        "",
    ),
    "system:kubelet-api-admin": (
        [
            rule(READ, CORE, "nodes"),
            rule("proxy", CORE, "nodes"),
            rule("*", CORE, ("nodes/log", "nodes/metrics", "nodes/proxy", "nodes/stats")),
        ],
        {},
        "",
    ),
    "system:service-account-issuer-discovery": (
        [rule("get", urls=("/.well-known/openid-configuration", "/openid/v1/jwks"))],
        {},
        "",
    ),
}

# The kubelet's static rules: the Node authorizer allows what these allow, after its graph checks
# (secrets, configmaps, PVCs, leases, tokens are decided by the graph; see auth/node.py).
NODE_RULES: list[rbac_pb2.PolicyRule] = [
    rule("create", AUTHN, "tokenreviews"),
    rule("create", AUTHZ, ("localsubjectaccessreviews", "subjectaccessreviews")),
    rule(READ, CORE, "services"),
    rule(("create", "get", "list", "watch"), CORE, "nodes"),
    rule(("patch", "update"), CORE, "nodes/status"),
    rule(("patch", "update"), CORE, "nodes"),
    rule(("create", "patch", "update"), CORE, "events"),
    rule(READ, CORE, "pods"),
    rule(("create", "delete"), CORE, "pods"),
    rule(("patch", "update"), CORE, "pods/status"),
    rule("create", CORE, "pods/eviction"),
    rule(READ, CORE, ("configmaps", "secrets")),
    rule("get", CORE, ("persistentvolumeclaims", "persistentvolumes")),
    rule("get", CORE, "endpoints"),
    rule(("create", "get", "list", "watch"), CERTS, "certificatesigningrequests"),
    rule(("create", "delete", "get", "patch", "update"), COORDINATION, "leases"),
    rule("get", STORAGE, "volumeattachments"),
    rule("create", CORE, "serviceaccounts/token"),
    rule(("get", "patch", "update"), CORE, "persistentvolumeclaims/status"),
    rule(READ, STORAGE, "csidrivers"),
    rule(("create", "delete", "get", "patch", "update"), STORAGE, "csinodes"),
    rule(READ, "node.k8s.io", "runtimeclasses"),
]
_ROLES["system:node"] = (NODE_RULES, {}, "")


def _subject(kind: str, name: str, namespace: str = "") -> rbac_pb2.Subject:
    return rbac_pb2.Subject(
        kind=kind, name=name, namespace=namespace, api_group="" if kind == "ServiceAccount" else RBAC
    )


# ClusterRoleBinding name (= its ClusterRole's) -> subjects.
_BINDINGS: dict[str, list[rbac_pb2.Subject]] = {
    "cluster-admin": [_subject("Group", "system:masters")],
    "system:basic-user": [_subject("Group", "system:authenticated")],
    "system:discovery": [_subject("Group", "system:authenticated")],
    "system:public-info-viewer": [
        _subject("Group", "system:authenticated"),
        _subject("Group", "system:unauthenticated"),
    ],
    "system:monitoring": [_subject("Group", "system:monitoring")],
    "system:kube-controller-manager": [_subject("User", "system:kube-controller-manager")],
    "system:kube-scheduler": [_subject("User", "system:kube-scheduler")],
    "system:volume-scheduler": [_subject("User", "system:kube-scheduler")],
    "system:kube-dns": [_subject("ServiceAccount", "kube-dns", "kube-system")],
    "system:node-proxier": [_subject("User", "system:kube-proxy")],
    "system:node": [],  # kept empty since 1.8: the Node authorizer authorizes kubelets
    "system:service-account-issuer-discovery": [_subject("Group", "system:serviceaccounts")],
}


def _meta(obj: rbac_pb2.ClusterRole | rbac_pb2.ClusterRoleBinding, name: str, labels: dict[str, str]) -> None:
    obj.metadata.name = name
    obj.metadata.labels[BOOTSTRAP_LABEL[0]] = BOOTSTRAP_LABEL[1]
    obj.metadata.labels.update(labels)
    obj.metadata.annotations[AUTOUPDATE] = "true"


def cluster_roles() -> list[rbac_pb2.ClusterRole]:
    out = []
    for name, (rules, labels, aggregate) in _ROLES.items():
        role = rbac_pb2.ClusterRole(rules=rules)
        _meta(role, name, labels)
        if aggregate:
            role.aggregation_rule.cluster_role_selectors.add().match_labels[AGG + aggregate] = "true"
        out.append(role)
    return out


def cluster_role_bindings() -> list[rbac_pb2.ClusterRoleBinding]:
    out = []
    for name, subjects in _BINDINGS.items():
        binding = rbac_pb2.ClusterRoleBinding(subjects=subjects)
        _meta(binding, name, {})
        binding.role_ref.api_group, binding.role_ref.kind, binding.role_ref.name = RBAC, "ClusterRole", name
        out.append(binding)
    return out
