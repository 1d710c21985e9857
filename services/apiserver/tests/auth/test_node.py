"""The Node authorizer and NodeRestriction admission on real etcd: a kubelet reads only the Secrets and
ConfigMaps its own pods use, writes only its own Node, Lease and its pods' status."""

from __future__ import annotations

from typing import Any

from rbac_helpers import attempt, create, create_seen
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import config_pb2, node_pb2, pod_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds

MASTERS = ("system:masters",)


def _kubelet(secure: Any, node: str) -> Any:
    return secure.as_user(f"system:node:{node}", ("system:nodes",))


def _pod(name: str, node: str, secret: str, configmap: str) -> pod_pb2.Pod:
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.namespace = name, "default"
    p.spec.node_name = node
    c = p.spec.containers.add(name="c", image="busybox")
    c.env_from.add().config_map_ref.name = configmap
    v = p.spec.volumes.add(name="s")
    v.secret.secret_name = secret
    return p


async def _setup(secure: Any) -> Any:
    admin = secure.as_user("kubernetes-admin", MASTERS)
    for n in ("s-a", "s-b"):
        s = config_pb2.Secret()
        s.metadata.name, s.metadata.namespace = n, "default"
        await create(admin, s)
    for n in ("c-a", "c-b"):
        c = config_pb2.ConfigMap()
        c.metadata.name, c.metadata.namespace = n, "default"
        await create(admin, c)
    await create(admin, _pod("p-a", "node-a", "s-a", "c-a"))
    await create_seen(secure, admin, _pod("p-b", "node-b", "s-b", "c-b"))
    return admin


async def test_kubelet_reads_only_what_its_pods_use(secure) -> None:
    await _setup(secure)
    a = _kubelet(secure, "node-a")
    get = lambda r, n: a.Get(pb.GetRequest(resource=r, namespace="default", name=n))  # noqa: E731
    assert (await attempt(get("secrets", "s-a")))[0]
    assert (await attempt(get("configmaps", "c-a")))[0]
    ok, msg = await attempt(get("secrets", "s-b"))
    assert not ok
    assert msg == (
        'secrets "s-b" is forbidden: User "system:node:node-a" cannot get resource "secrets" in API group "" in the '
        "namespace \"default\": no relationship found between node 'node-a' and this object"
    )
    assert not (await attempt(get("configmaps", "c-b")))[0]
    # a list of every Secret is refused; one pinned to a used Secret's name is not
    assert not (await attempt(a.List(pb.ListRequest(resource="secrets", namespace="default"))))[0]
    pinned = pb.ListRequest(resource="secrets", namespace="default", field_selector="metadata.name=s-a")
    assert (await attempt(a.List(pinned)))[0]
    # the static node rules: pods, services, nodes are readable
    for resource in ("pods", "services", "nodes"):
        assert (await attempt(a.List(pb.ListRequest(resource=resource))))[0], resource
    # a non-node user in system:nodes with a malformed name gets nothing from the Node authorizer
    odd = secure.as_user("kubelet-without-prefix", ("system:nodes",))
    assert not (await attempt(odd.List(pb.ListRequest(resource="pods"))))[0]


async def test_kubelet_writes_only_its_own_objects(secure) -> None:
    admin = await _setup(secure)
    a = _kubelet(secure, "node-a")
    # its own Node: create and update; another node's: neither
    mine = node_pb2.Node()
    mine.metadata.name = "node-a"
    assert (await attempt(create(a, mine)))[0]
    other = node_pb2.Node()
    other.metadata.name = "node-b"
    ok, msg = await attempt(create(a, other))
    assert not ok and msg == 'nodes "node-b" is forbidden: node "node-a" is not allowed to modify node "node-b"'
    await create(admin, other)
    theirs = kinds.unpack((await admin.Get(pb.GetRequest(resource="nodes", name="node-b"))).object)
    theirs.metadata.labels["x"] = "y"
    assert not (await attempt(a.Update(pb.UpdateRequest(object=kinds.pack(theirs)))))[0]
    # pod status: its pods only
    for name, allowed in (("p-a", True), ("p-b", False)):
        pod = kinds.unpack((await admin.Get(pb.GetRequest(resource="pods", namespace="default", name=name))).object)
        pod.status.phase = "Running"
        ok, msg = await attempt(a.UpdateStatus(pb.UpdateStatusRequest(object=kinds.pack(pod))))
        assert ok is allowed, msg
    assert (
        msg
        == 'pods "p-b" is forbidden: node "node-a" can only update pod status for pods with spec.nodeName set to itself'
    )
    # deleting: its own pods only; creating: mirror pods only
    ok, msg = await attempt(a.Delete(pb.DeleteRequest(resource="pods", namespace="default", name="p-b")))
    assert not ok and "can only delete pods with spec.nodeName set to itself" in msg
    ok, msg = await attempt(create(a, _pod("sneaky", "node-a", "s-b", "c-b")))
    assert not ok and 'node "node-a" can only create mirror pods' in msg
    # its Lease in kube-node-lease, nobody else's
    lease = lease_pb2.Lease()
    lease.metadata.name, lease.metadata.namespace = "node-a", "kube-node-lease"
    assert (await attempt(create(a, lease)))[0]
    assert (await attempt(a.Get(pb.GetRequest(resource="leases", namespace="kube-node-lease", name="node-a"))))[0]
    ok, msg = await attempt(a.Get(pb.GetRequest(resource="leases", namespace="kube-node-lease", name="node-b")))
    assert not ok and "can only access node lease with the same name as the requesting node" in msg
    lease.metadata.name = "node-b"
    assert not (await attempt(create(a, lease)))[0]
    lease.metadata.name, lease.metadata.namespace = "node-a", "default"
    assert not (await attempt(create(a, lease)))[0]
