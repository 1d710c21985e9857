"""Controllers against a real apiserver: the ReplicaSet controller keeps N pods, the namespace
controller empties a Terminating namespace."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import config_pb2, namespace_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager
from skiff_controllers.leader import LeaderElector

pytestmark = pytest.mark.etcd


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, ["namespace", "replicaset"])
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


def replicaset(name: str, replicas: int) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet(
        api_version="apps/v1", kind="ReplicaSet", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    rs.spec.replicas = replicas
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="c", image="busybox:latest")
    return rs


async def owned_pods(client: ApiClient, name: str) -> list[pod_pb2.Pod]:
    pods = (await client.list(pod_pb2.Pod, "default", label_selector=f"app={name}")).items
    return [p for p in pods if not p.metadata.HasField("deletion_timestamp")]


async def test_replicaset_scales_up_and_down(client: ApiClient, manager: ControllerManager) -> None:
    name = f"rs-{uuid.uuid4().hex[:6]}"
    await client.create(replicaset(name, 3))

    async def count(n: int) -> bool:
        return len(await owned_pods(client, name)) == n

    await eventually(lambda: count(3), "3 pods")
    await asyncio.sleep(0.5)  # a lagging informer must not cause extra creates (expectations)
    assert len(await owned_pods(client, name)) == 3
    for _ in range(20):  # the controller writes status concurrently: retry on Conflict
        rs = await client.get(apps_pb2.ReplicaSet, name, "default")
        rs.spec.replicas = 1
        try:
            await client.update(rs)
            break
        except errors.Conflict:
            await asyncio.sleep(0.05)
    await eventually(lambda: count(1), "1 pod")

    async def status_ok() -> bool:
        st = (await client.get(apps_pb2.ReplicaSet, name, "default")).status
        return st.replicas == 1 and st.observed_generation >= 2

    await eventually(status_ok, "status replicas=1")
    # a pod deleted by someone else is replaced
    victim = (await owned_pods(client, name))[0]
    await client.delete(pod_pb2.Pod, victim.metadata.name, "default", grace_period_seconds=0)

    async def replaced() -> bool:
        pods = await owned_pods(client, name)
        return len(pods) == 1 and pods[0].metadata.name != victim.metadata.name

    await eventually(replaced, "replacement pod")


async def test_namespace_controller_empties_terminating_namespace(
    client: ApiClient, manager: ControllerManager
) -> None:
    ns = f"ns-{uuid.uuid4().hex[:6]}"
    await client.create(
        namespace_pb2.Namespace(api_version="v1", kind="Namespace", metadata=meta_pb2.ObjectMeta(name=ns))
    )
    await client.create(
        config_pb2.ConfigMap(api_version="v1", kind="ConfigMap", metadata=meta_pb2.ObjectMeta(name="cm", namespace=ns))
    )
    await client.delete(namespace_pb2.Namespace, ns)

    async def gone() -> bool:
        try:
            await client.get(namespace_pb2.Namespace, ns)
            return False
        except errors.NotFound:
            return True

    await eventually(gone, "namespace deleted")
    assert (await client.list(config_pb2.ConfigMap, ns)).items == []


async def test_leader_election_is_exclusive(client: ApiClient) -> None:
    name = f"lease-{uuid.uuid4().hex[:6]}"
    a = LeaderElector(client, "a", name=name, lease_duration=15)
    b = LeaderElector(client, "b", name=name, lease_duration=15)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert await a.try_acquire_or_renew()  # renewal
    # an expired lease is taken over
    short = LeaderElector(client, "c", name=f"{name}-x", lease_duration=1)
    assert await short.try_acquire_or_renew()
    other = LeaderElector(client, "d", name=f"{name}-x", lease_duration=1)
    await asyncio.sleep(2.1)
    assert await other.try_acquire_or_renew()


async def test_replicaset_adopts_matching_orphans(client: ApiClient, manager: ControllerManager) -> None:
    name = f"adopt-{uuid.uuid4().hex[:6]}"
    orphan = pod_pb2.Pod(
        api_version="v1",
        kind="Pod",
        metadata=meta_pb2.ObjectMeta(name=f"{name}-orphan", namespace="default", labels={"app": name}),
    )
    orphan.spec.containers.add(name="c", image="busybox:latest")
    created = await client.create(orphan)
    # The pod and ReplicaSet informers are separate watches; without this wait the ReplicaSet can be
    # seen first and get two new pods before the orphan shows up (then the newest pod is deleted).
    pod_cache = manager.ctx.factory.informer(pod_pb2.Pod)

    async def orphan_cached() -> bool:
        return pod_cache.store.get(f"default/{created.metadata.name}") is not None

    await eventually(orphan_cached, "the orphan in the controllers' pod cache")
    await client.create(replicaset(name, 2))

    async def two_owned() -> bool:
        pods = await owned_pods(client, name)
        return len(pods) == 2 and all(
            any(r.kind == "ReplicaSet" and r.name == name and r.controller for r in p.metadata.owner_references)
            for p in pods
        )

    await eventually(two_owned, "orphan adopted plus one new pod")
    names = {p.metadata.name for p in await owned_pods(client, name)}
    assert f"{name}-orphan" in names
