"""The garbage collector against a real apiserver and etcd: Background, Foreground and Orphan
propagation, owners matched by UID, and kinds that no table lists (ConfigMaps owning Secrets)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from nodes_testlib import bare_pod, running
from skiff.api.core.v1 import config_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.garbagecollector.controller import GarbageCollector

pytestmark = pytest.mark.etcd


@pytest.fixture
async def gc(client: ApiClient) -> AsyncIterator[GarbageCollector]:
    async with running(client, GarbageCollector) as c:
        yield c


def uniq(p: str) -> str:
    return f"{p}-{uuid.uuid4().hex[:6]}"


def ref_to(obj, *, block: bool | None = None, uid: str | None = None) -> meta_pb2.OwnerReference:
    r = meta_pb2.OwnerReference(
        api_version=obj.api_version, kind=obj.kind, name=obj.metadata.name, uid=uid or obj.metadata.uid
    )
    if block is not None:
        r.block_owner_deletion = block
    return r


async def configmap(client: ApiClient, name: str, owners=(), finalizers=()) -> config_pb2.ConfigMap:
    cm = config_pb2.ConfigMap(
        api_version="v1", kind="ConfigMap", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    cm.metadata.owner_references.extend(owners)
    cm.metadata.finalizers.extend(finalizers)
    return await client.create(cm)


async def secret(client: ApiClient, name: str, owners=()) -> config_pb2.Secret:
    s = config_pb2.Secret(api_version="v1", kind="Secret", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    s.metadata.owner_references.extend(owners)
    return await client.create(s)


async def seen_by(gc: GarbageCollector, *objs: object) -> None:
    """Wait until the collector's graph holds every object. Orphan and Foreground act on the dependents
    the collector knows when it handles the owner's finalizer, as Kubernetes' does; a test that deletes
    the owner while one informer still lags (a busy machine, a collector still starting) would test
    that lag instead of the propagation policy."""

    async def known() -> bool:
        return all(o.metadata.uid in gc.graph.vertices for o in objs)  # type: ignore[attr-defined]

    await eventually(known, "the collector's graph holding the owner and its dependents")


async def looked_at(gc: GarbageCollector, obj: object) -> None:
    """Wait until the collector has the object in its graph and no pending or running work for it: a
    verdict on it has been reached (instead of sleeping and hoping it looked)."""
    uid = obj.metadata.uid  # type: ignore[attr-defined]

    async def settled() -> bool:
        q = gc.queue
        return uid in gc.graph.vertices and uid not in q._dirty and uid not in q._processing

    await eventually(settled, "the collector done with the object")


async def gone(client: ApiClient, resource: str, name: str) -> bool:
    try:
        await client.get(resource, name, "default")
    except errors.NotFound:
        return True
    return False


async def test_background_deletes_dependents_of_any_kind(client: ApiClient, gc: GarbageCollector) -> None:
    owner = await configmap(client, uniq("owner"))
    s = await secret(client, uniq("dep-secret"), [ref_to(owner)])
    pod = bare_pod(uniq("dep-pod"))
    pod.metadata.owner_references.append(ref_to(owner))
    p = await client.create(pod)
    unrelated = await secret(client, uniq("unrelated"))
    await client.delete(config_pb2.ConfigMap, owner.metadata.name, "default")
    await eventually(lambda: gone(client, "secrets", s.metadata.name), "dependent secret collected")
    await eventually(lambda: gone(client, "pods", p.metadata.name), "dependent pod collected")
    assert not await gone(client, "secrets", unrelated.metadata.name)


async def test_owner_recreated_under_the_same_name_does_not_count(client: ApiClient, gc: GarbageCollector) -> None:
    name = uniq("phoenix")
    first = await configmap(client, name)
    dep = await secret(client, uniq("dep"), [ref_to(first)])
    # The owner goes and comes back with a new UID before the collector could look: the dependent's
    # ref names the old UID, so it is garbage although an object of that name exists.
    await client.delete(config_pb2.ConfigMap, name, "default")
    again = await configmap(client, name)
    assert again.metadata.uid != first.metadata.uid
    await eventually(lambda: gone(client, "secrets", dep.metadata.name), "dependent of the old owner collected")
    assert not await gone(client, "configmaps", name)


async def test_a_living_owner_keeps_the_dependent_and_dangling_refs_go(client: ApiClient, gc: GarbageCollector) -> None:
    alive = await configmap(client, uniq("alive"))
    ghost = config_pb2.ConfigMap(
        api_version="v1", kind="ConfigMap", metadata=meta_pb2.ObjectMeta(name=uniq("ghost"), uid=str(uuid.uuid4()))
    )
    dep = await secret(client, uniq("dep"), [ref_to(alive), ref_to(ghost)])

    async def one_ref_left() -> bool:
        refs = (await client.get(config_pb2.Secret, dep.metadata.name, "default")).metadata.owner_references
        return [r.uid for r in refs] == [alive.metadata.uid]

    await eventually(one_ref_left, "the dangling ref removed, the living one kept")


async def test_foreground_deletes_blocking_dependents_first(client: ApiClient, gc: GarbageCollector) -> None:
    owner = await configmap(client, uniq("fg-owner"))
    held = await configmap(client, uniq("fg-held"), [ref_to(owner, block=True)], finalizers=["example.com/hold"])
    loose = await secret(client, uniq("fg-loose"), [ref_to(owner, block=False)])
    await seen_by(gc, owner, held, loose)
    await client.delete(config_pb2.ConfigMap, owner.metadata.name, "default", propagation_policy="Foreground")

    async def dependent_deleting() -> bool:
        cm = await client.get(config_pb2.ConfigMap, held.metadata.name, "default")
        return cm.metadata.HasField("deletion_timestamp")

    await eventually(dependent_deleting, "the blocking dependent being deleted")
    await eventually(lambda: gone(client, "secrets", loose.metadata.name), "the non-blocking dependent deleted")
    # The owner waits for its blocking dependent, which a finalizer holds.
    waiting = await client.get(config_pb2.ConfigMap, owner.metadata.name, "default")
    assert "foregroundDeletion" in waiting.metadata.finalizers
    assert waiting.metadata.HasField("deletion_timestamp")
    cm = await client.get(config_pb2.ConfigMap, held.metadata.name, "default")
    del cm.metadata.finalizers[:]
    await client.update(cm)
    await eventually(lambda: gone(client, "configmaps", held.metadata.name), "the dependent gone")
    await eventually(lambda: gone(client, "configmaps", owner.metadata.name), "then the owner gone")


async def test_orphan_keeps_dependents_without_the_ref(client: ApiClient, gc: GarbageCollector) -> None:
    owner = await configmap(client, uniq("orph-owner"))
    other = await configmap(client, uniq("orph-other"))
    dep = await secret(client, uniq("orph-dep"), [ref_to(owner), ref_to(other)])
    pod = bare_pod(uniq("orph-pod"))
    pod.metadata.owner_references.append(ref_to(owner))
    p = await client.create(pod)
    await seen_by(gc, owner, other, dep, p)
    await client.delete(config_pb2.ConfigMap, owner.metadata.name, "default", propagation_policy="Orphan")
    await eventually(lambda: gone(client, "configmaps", owner.metadata.name), "the owner removed")
    # The finalizer goes only after the refs were stripped: both dependents stay, without the ref.
    s = await client.get(config_pb2.Secret, dep.metadata.name, "default")
    assert [r.uid for r in s.metadata.owner_references] == [other.metadata.uid]
    left = await client.get(pod_pb2.Pod, p.metadata.name, "default")
    assert list(left.metadata.owner_references) == []
    assert not left.metadata.HasField("deletion_timestamp")


async def test_orphan_replaces_a_waiting_foreground_deletion(client: ApiClient, gc: GarbageCollector) -> None:
    """A foreground deletion stuck behind a held dependent, deleted again with Orphan: the apiserver swaps
    the finalizer (they are exclusive), the collector orphans the dependent and the owner goes."""
    owner = await configmap(client, uniq("swap-owner"))
    held = await configmap(client, uniq("swap-held"), [ref_to(owner, block=True)], finalizers=["example.com/hold"])
    await seen_by(gc, owner, held)
    await client.delete(config_pb2.ConfigMap, owner.metadata.name, "default", propagation_policy="Foreground")

    async def dependent_deleting() -> bool:
        cm = await client.get(config_pb2.ConfigMap, held.metadata.name, "default")
        return cm.metadata.HasField("deletion_timestamp")

    await eventually(dependent_deleting, "the blocking dependent being deleted")
    await client.delete(config_pb2.ConfigMap, owner.metadata.name, "default", propagation_policy="Orphan")
    await eventually(lambda: gone(client, "configmaps", owner.metadata.name), "the owner removed")
    left = await client.get(config_pb2.ConfigMap, held.metadata.name, "default")
    assert list(left.metadata.owner_references) == []
    del left.metadata.finalizers[:]
    await client.update(left)


async def test_deleting_a_replicaset_collects_its_pods_in_the_manager(client: ApiClient) -> None:
    """The collector beside the ReplicaSet controller in one manager, as `skiff-controllers` runs them."""
    from skiff.api.apps.v1 import apps_pb2
    from skiff_controllers.app import ControllerManager

    manager = ControllerManager(client, ["replicaset", "garbagecollector"])
    await manager.start()
    try:
        name = uniq("rs")
        rs = apps_pb2.ReplicaSet(
            api_version="apps/v1", kind="ReplicaSet", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
        )
        rs.spec.replicas = 3
        rs.spec.selector.match_labels["app"] = name
        rs.spec.template.metadata.labels["app"] = name
        rs.spec.template.spec.containers.add(name="c", image="busybox")
        await client.create(rs)

        async def pods() -> list[pod_pb2.Pod]:
            return (await client.list(pod_pb2.Pod, "default", label_selector=f"app={name}")).items

        async def three() -> bool:
            return len(await pods()) == 3

        await eventually(three, "3 pods")
        await client.delete(apps_pb2.ReplicaSet, name, "default", propagation_policy="Foreground")

        async def all_gone() -> bool:
            return not await pods() and await gone(client, "replicasets", name)

        await eventually(all_gone, "pods and then the ReplicaSet gone")
    finally:
        await manager.stop()


async def test_cluster_scoped_owner_of_a_namespaced_dependent(client: ApiClient, gc: GarbageCollector) -> None:
    from skiff.api.core.v1 import node_pb2

    node = await client.create(
        node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=uniq("owner-node")))
    )
    dep = await configmap(client, uniq("node-dep"), [ref_to(node)])
    await looked_at(gc, dep)  # the owner exists: the dependent must survive a look
    assert not await gone(client, "configmaps", dep.metadata.name)
    await client.delete(node_pb2.Node, node.metadata.name)
    await eventually(lambda: gone(client, "configmaps", dep.metadata.name), "dependent of the deleted Node collected")


async def test_an_owner_ref_resolves_in_the_dependents_namespace(client: ApiClient, gc: GarbageCollector) -> None:
    """A ref to an owner in another namespace is dangling there (refs never cross namespaces), and that
    verdict must not leak to the owner's real dependents in its own namespace."""
    from skiff.api.core.v1 import namespace_pb2

    other = uniq("ns")
    await client.create(
        namespace_pb2.Namespace(api_version="v1", kind="Namespace", metadata=meta_pb2.ObjectMeta(name=other))
    )
    owner = await configmap(client, uniq("home-owner"))
    stray = config_pb2.Secret(
        api_version="v1", kind="Secret", metadata=meta_pb2.ObjectMeta(name="stray", namespace=other)
    )
    stray.metadata.owner_references.append(ref_to(owner))
    await client.create(stray)

    async def stray_gone() -> bool:
        try:
            await client.get(config_pb2.Secret, "stray", other)
        except errors.NotFound:
            return True
        return False

    await eventually(stray_gone, "the cross-namespace dependent collected")

    async def warned() -> bool:
        evs = (await client.list("events", other)).items
        return any(e.reason == "OwnerRefInvalidNamespace" and e.involved_object.name == "stray" for e in evs)

    await eventually(warned, "an OwnerRefInvalidNamespace warning on the dependent")
    home = await secret(client, uniq("home-dep"), [ref_to(owner)])
    await looked_at(gc, home)
    assert not await gone(client, "secrets", home.metadata.name)
