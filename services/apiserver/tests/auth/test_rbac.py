"""RBAC on the gRPC port against real etcd: bindings take effect, refusals read as Kubernetes', roles
aggregate, nobody escalates, and the bootstrap policy is reconciled at start-up."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from rbac_helpers import attempt, binding, create, create_seen, role, rule
from skiff.api.core.v1 import config_pb2, namespace_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb

MASTERS = ("system:masters",)


def _list(stub: Any, resource: str, namespace: str) -> Any:
    return stub.List(pb.ListRequest(resource=resource, namespace=namespace))


async def _namespace(admin: Any, name: str) -> None:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = name
    await create(admin, ns)


async def test_unbound_user_is_refused_in_kubernetes_words(secure) -> None:
    nobody = secure.as_user("nobody")
    ok, msg = await attempt(_list(nobody, "pods", "default"))
    assert not ok
    assert (
        msg == 'pods is forbidden: User "nobody" cannot list resource "pods" in API group "" in the namespace "default"'
    )
    ok, msg = await attempt(nobody.Get(pb.GetRequest(resource="nodes", name="n1")))
    assert (
        msg == 'nodes "n1" is forbidden: User "nobody" cannot get resource "nodes" in API group "" at the cluster scope'
    )
    ok, msg = await attempt(_list(nobody, "deployments", "default"))
    assert msg.startswith(
        'deployments.apps is forbidden: User "nobody" cannot list resource "deployments" in API group "apps"'
    )


async def test_system_masters_may_do_everything(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    for resource in ("pods", "secrets", "nodes", "clusterroles", "leases"):
        ok, _ = await attempt(_list(admin, resource, ""))
        assert ok, resource


async def test_role_binding_grants_within_its_namespace_only(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    await _namespace(admin, "team-a")
    alice = secure.as_user("alice", ("developers",))
    assert not (await attempt(_list(alice, "pods", "team-a")))[0]
    await create(admin, role("pod-reader", "team-a", rule(["get", "list"], [""], ["pods"])))
    await create_seen(secure, admin, binding("read-pods", "team-a", "Role", "pod-reader", ("Group", "developers")))
    assert (await attempt(_list(alice, "pods", "team-a")))[0]
    assert not (await attempt(_list(alice, "pods", "default")))[0]
    assert not (await attempt(_list(alice, "secrets", "team-a")))[0]
    # watch is not list: the stream is refused before its first message
    with pytest.raises(grpc.aio.AioRpcError) as err:
        call = alice.Watch(pb.WatchRequest(resource="pods", namespace="team-a"))
        await call.read()
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_resource_names_limit_a_rule(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    for name in ("mine", "theirs"):
        cm = config_pb2.ConfigMap()
        cm.metadata.name, cm.metadata.namespace = name, "default"
        await create(admin, cm)
    await create(admin, role("one-cm", "default", rule(["get"], [""], ["configmaps"], ["mine"])))
    await create_seen(secure, admin, binding("one-cm", "default", "Role", "one-cm", ("User", "bob")))
    bob = secure.as_user("bob")
    get = lambda n: bob.Get(pb.GetRequest(resource="configmaps", namespace="default", name=n))  # noqa: E731
    assert (await attempt(get("mine")))[0]
    assert not (await attempt(get("theirs")))[0]


async def test_clusterrole_aggregation_feeds_view(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    carol = secure.as_user("carol")
    await create_seen(secure, admin, binding("carol-view", "", "ClusterRole", "view", ("User", "carol"), cluster=True))
    assert (await attempt(_list(carol, "pods", "default")))[0]
    assert not (await attempt(_list(carol, "leases", "default")))[0]  # view does not hold leases
    assert not (await attempt(_list(carol, "secrets", "default")))[0]  # nor secrets, by design
    extra = role("lease-viewer", "", rule(["list"], ["coordination.k8s.io"], ["leases"]), cluster=True)
    extra.metadata.labels["rbac.authorization.k8s.io/aggregate-to-view"] = "true"
    await create_seen(secure, admin, extra)
    assert (await attempt(_list(carol, "leases", "default")))[0]


async def test_no_escalation_through_roles_or_bindings(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    await _namespace(admin, "team-b")
    await create_seen(secure, admin, binding("dana-admin", "team-b", "ClusterRole", "admin", ("User", "dana")))
    dana = secure.as_user("dana")
    # admin in team-b holds secrets: a role granting them is no escalation
    ok, _ = await attempt(create(dana, role("secret-reader", "team-b", rule(["get"], [""], ["secrets"]))))
    assert ok
    # nodes are not hers to hand out
    ok, msg = await attempt(create(dana, role("node-reader", "team-b", rule(["list"], [""], ["nodes"]))))
    assert not ok
    assert msg == (
        'roles.rbac.authorization.k8s.io "node-reader" is forbidden: user "dana" (groups=["system:authenticated"]) '
        "is attempting to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["nodes"], Verbs:["list"]}'
    )
    # binding cluster-admin, even only within team-b, grants what she does not hold
    ok, msg = await attempt(create(dana, binding("grab", "team-b", "ClusterRole", "cluster-admin", ("User", "dana"))))
    assert not ok and "is attempting to grant RBAC permissions not currently held" in msg
    # binding what she holds (edit within team-b) is fine
    ok, _ = await attempt(create(dana, binding("erin-edit", "team-b", "ClusterRole", "edit", ("User", "erin"))))
    assert ok
    # the `bind` verb on cluster-admin lets her bind it without holding it
    await create_seen(
        secure,
        admin,
        role(
            "bind-ca",
            "",
            rule(["bind"], ["rbac.authorization.k8s.io"], ["clusterroles"], ["cluster-admin"]),
            cluster=True,
        ),
    )
    await create_seen(secure, admin, binding("dana-bind", "", "ClusterRole", "bind-ca", ("User", "dana"), cluster=True))
    ok, _ = await attempt(create(dana, binding("grab", "team-b", "ClusterRole", "cluster-admin", ("User", "dana"))))
    assert ok


async def test_binding_role_ref_is_immutable_and_validated(secure) -> None:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    b = await create(admin, binding("fixed", "default", "ClusterRole", "view", ("User", "x")))
    b.role_ref.name = "edit"
    from skiff_apiserver.machinery import kinds

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await admin.Update(pb.UpdateRequest(object=kinds.pack(b)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "roleRef: Invalid value: cannot change roleRef" in (err.value.details() or "")
    bad = binding("bad", "default", "Secret", "x", ("Robot", "r"))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await create(admin, bad)
    assert "roleRef.kind: Unsupported value" in (err.value.details() or "")
    assert "subjects[0].kind: Unsupported value" in (err.value.details() or "")


async def test_bootstrap_policy_is_reconciled_at_start(secure, etcd, tmp_path) -> None:
    from authz_testlib import start_secure
    from skiff_apiserver.machinery import kinds

    admin = secure.as_user("kubernetes-admin", MASTERS)
    get = lambda n: admin.Get(pb.GetRequest(resource="clusterroles", name=n))  # noqa: E731
    names = set()
    resp = await admin.List(pb.ListRequest(resource="clusterroles"))
    names = {kinds.unpack(i).metadata.name for i in resp.items}
    assert {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:kube-scheduler",
        "system:kube-controller-manager",
        "system:node-proxier",
        "system:public-info-viewer",
        "system:discovery",
        "system:basic-user",
    } <= names
    # an administrator trims two defaults; one of them opts out of reconciliation
    sched = kinds.unpack((await get("system:kube-scheduler")).object)
    del sched.rules[1:]
    await admin.Update(pb.UpdateRequest(object=kinds.pack(sched)))
    view = kinds.unpack((await get("system:discovery")).object)
    del view.rules[:]
    view.metadata.annotations["rbac.authorization.kubernetes.io/autoupdate"] = "false"
    await admin.Update(pb.UpdateRequest(object=kinds.pack(view)))
    again = await start_secure(etcd.endpoint, tmp_path / "second", etcd_prefix=secure.server.app.cfg.etcd_prefix)
    try:
        sched = kinds.unpack((await get("system:kube-scheduler")).object)
        assert len(sched.rules) > 10
        assert not kinds.unpack((await get("system:discovery")).object).rules
    finally:
        await again.close()


async def test_controller_roles_bound_to_their_serviceaccounts(secure) -> None:
    """kube-controller-manager's per-controller credentials: system:controller:<name> is bound to
    kube-system/<name> (Kubernetes' "Controller roles")."""
    from skiff.api.authorization.v1 import authorization_pb2 as az
    from skiff_apiserver.machinery import kinds

    admin = secure.as_user("kubernetes-admin", MASTERS)

    async def may(sa: str, verb: str, resource: str, group: str = "") -> bool:
        r = az.SubjectAccessReview()
        r.spec.user = f"system:serviceaccount:kube-system:{sa}"
        r.spec.groups.extend(["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"])
        a = r.spec.resource_attributes
        a.verb, a.resource, a.group, a.namespace = verb, resource, group, "default"
        answer: Any = kinds.unpack((await admin.Create(pb.CreateRequest(object=kinds.pack(r)))).object)
        return bool(answer.status.allowed)

    assert await may("replicaset-controller", "create", "pods")
    assert not await may("replicaset-controller", "get", "secrets")
    assert await may("deployment-controller", "create", "replicasets", "apps")
    assert not await may("deployment-controller", "create", "pods")
    assert await may("endpointslice-controller", "create", "endpointslices", "discovery.k8s.io")
    assert await may("generic-garbage-collector", "delete", "configmaps")
