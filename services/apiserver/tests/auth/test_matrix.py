"""The authorization matrix: every identity x verb x resource, asked of a real apiserver (real etcd, the
bootstrap policy it reconciled, bindings made here) through SubjectAccessReview.

The expected table below is written from Kubernetes' documentation -- "Default roles and role bindings"
and "User-facing roles" (RBAC), "Using Node Authorization" -- not from Skiff's code: each identity lists
what the documented roles give it, everything else must be refused. Resources are asked in namespace
`team` (namespaced ones) or at the cluster scope; objects are named `x`, except the namespace `team`.
"""

from __future__ import annotations

import itertools
from typing import Any

from rbac_helpers import binding, create, create_seen, role, rule
from skiff.api.authorization.v1 import authorization_pb2 as az
from skiff.api.core.v1 import namespace_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
READ, WRITE = "get list watch", "create update patch delete deletecollection"
ALL = f"{READ} {WRITE}"
# resource (with subresource) -> (API group, namespaced)
RESOURCES = {
    "pods": ("", True),
    "pods/status": ("", True),
    "pods/binding": ("", True),
    "secrets": ("", True),
    "configmaps": ("", True),
    "services": ("", True),
    "endpoints": ("", True),
    "events": ("", True),
    "deployments": ("apps", True),
    "replicasets": ("apps", True),
    "leases": ("coordination.k8s.io", True),
    "rolebindings": ("rbac.authorization.k8s.io", True),
    "nodes": ("", False),
    "nodes/status": ("", False),
    "namespaces": ("", False),
    "clusterroles": ("rbac.authorization.k8s.io", False),
}
EVERYTHING = {(v, r) for v in VERBS for r in RESOURCES}


def grants(*pairs: tuple[str, str]) -> set[tuple[str, str]]:
    """("get list", "pods secrets") -> {(get, pods), (list, pods), (get, secrets), (list, secrets)}."""
    return {(v, r) for verbs, resources in pairs for v in verbs.split() for r in resources.split()}


# identity -> (user, groups, what Kubernetes' documented defaults (and this test's bindings) allow)
EXPECTED: dict[str, tuple[str, tuple[str, ...], set[tuple[str, str]]]] = {
    # cluster-admin is bound to system:masters; masters are always allowed
    "admin": ("kubernetes-admin", ("system:masters",), EVERYTHING),
    # system:kube-scheduler (+ system:volume-scheduler)
    "scheduler": (
        "system:kube-scheduler",
        (),
        grants(
            ("get list watch", "nodes services replicasets namespaces"),
            ("get list watch delete", "pods"),
            ("create", "pods/binding"),
            ("patch update", "pods/status"),
            ("create update patch", "events"),
            ("create", "leases"),  # get/update only its own lease, by name
        ),
    ),
    # system:kube-controller-manager: list/watch everything, a few writes of its own
    "controller-manager": (
        "system:kube-controller-manager",
        (),
        grants(
            ("list watch", " ".join(RESOURCES)),
            ("create update patch", "events"),
            ("create", "leases"),
            ("create delete get update", "secrets"),
            ("get", "configmaps namespaces"),
        ),
    ),
    # system:node-proxier
    "kube-proxy": (
        "system:kube-proxy",
        (),
        grants(("list watch", "services endpoints"), ("get list watch", "nodes"), ("create update patch", "events")),
    ),
    # the Node authorizer: static node rules; secrets/configmaps only when its pods use them (x is
    # unused), leases only its own in kube-node-lease; NodeRestriction (admission) is not asked by a review
    "node-a": (
        "system:node:node-a",
        ("system:nodes",),
        grants(
            ("get list watch", "services pods"),
            ("get", "endpoints"),
            ("create get list watch update patch", "nodes"),
            ("update patch", "nodes/status pods/status"),
            ("create update patch", "events"),
            ("create delete", "pods"),
        ),
    ),
    # view, bound cluster-wide: reads, never secrets, never RBAC
    "viewer": (
        "vera",
        (),
        grants((READ, "pods pods/status configmaps services endpoints events deployments replicasets namespaces")),
    ),
    # edit, bound in `team` only: view + secrets reads + writes on workloads and config, leases; not
    # endpoints (removed from edit for CVE-2021-25740), not RBAC, nothing cluster-scoped but its namespace
    "editor": (
        "eddie",
        ("qa",),
        grants(
            (READ, "pods pods/status configmaps services endpoints events deployments replicasets secrets"),
            ("get", "namespaces"),
            (WRITE, "pods configmaps secrets services events deployments replicasets"),
            (ALL, "leases"),
        ),
    ),
    # a ServiceAccount bound to a Role that reads configmaps in team
    "serviceaccount": (
        "system:serviceaccount:team:robot",
        ("system:serviceaccounts", "system:serviceaccounts:team"),
        grants(("get list", "configmaps")),
    ),
    "unbound": ("nobody", (), set()),
    "anonymous": ("system:anonymous", ("system:unauthenticated",), set()),
}


def _review(user: str, groups: tuple[str, ...], verb: str, resource: str) -> az.SubjectAccessReview:
    group, namespaced = RESOURCES[resource]
    res, _, sub = resource.partition("/")
    name = "" if verb in ("list", "watch", "create", "deletecollection") else "x"
    namespace = "team" if namespaced else ""
    if res == "namespaces":
        name = namespace = "team" if name else ""
    r = az.SubjectAccessReview()
    r.spec.user = user
    r.spec.groups.extend([*groups, "system:authenticated"] if user != "system:anonymous" else groups)
    a = r.spec.resource_attributes
    a.verb, a.group, a.resource, a.subresource, a.namespace, a.name = verb, group, res, sub, namespace, name
    return r


async def test_authorization_matrix(secure) -> None:
    admin = secure.as_user("kubernetes-admin", ("system:masters",))
    ns = namespace_pb2.Namespace()
    ns.metadata.name = "team"
    await create(admin, ns)
    await create(admin, binding("vera-view", "", "ClusterRole", "view", ("User", "vera"), cluster=True))
    await create(admin, binding("eddie-edit", "team", "ClusterRole", "edit", ("Group", "qa")))
    await create(admin, role("cm-reader", "team", rule(["get", "list"], [""], ["configmaps"])))
    await create_seen(secure, admin, binding("robot", "team", "Role", "cm-reader", ("ServiceAccount", "team/robot")))
    mismatches = []
    for identity, (user, groups, allowed) in EXPECTED.items():
        for verb, resource in itertools.product(VERBS, RESOURCES):
            review = _review(user, groups, verb, resource)
            resp = await admin.Create(pb.CreateRequest(object=kinds.pack(review)))
            answer: Any = kinds.unpack(resp.object)
            want = (verb, resource) in allowed
            if answer.status.allowed != want:
                mismatches.append(f"{identity}: {verb} {resource}: expected {want}, got {answer.status.allowed}")
    assert not mismatches, "\n".join(mismatches)
