"""ApiClient and Informer against a real apiserver on a real etcd."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from skiff.api.core.v1 import config_pb2, node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, Informer, InformerFactory
from skiff_common import errors

pytestmark = pytest.mark.etcd


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pod(name: str, node: str = "", labels: dict[str, str] | None = None) -> pod_pb2.Pod:
    p = pod_pb2.Pod(
        api_version="v1",
        kind="Pod",
        metadata=meta_pb2.ObjectMeta(name=name, namespace="default", labels=labels or {}),
    )
    p.spec.containers.add(name="main", image="busybox:1.36")
    p.spec.node_name = node
    return p


async def test_crud_and_error_mapping(client: ApiClient) -> None:
    name = uniq("cm")
    cm = config_pb2.ConfigMap(
        api_version="v1",
        kind="ConfigMap",
        metadata=meta_pb2.ObjectMeta(name=name, namespace="default"),
        data={"a": "1"},
    )
    created = await client.create(cm)
    assert created.metadata.uid
    with pytest.raises(errors.AlreadyExists):
        await client.create(cm)
    got = await client.get(config_pb2.ConfigMap, name, "default")
    assert got.data == {"a": "1"}
    got.data["b"] = "2"
    updated = await client.update(got)
    with pytest.raises(errors.Conflict):
        await client.update(got)  # stale resourceVersion
    patched = await client.patch("configmaps", name, "default", {"data": {"c": "3"}})
    assert dict(patched.data) == {"a": "1", "b": "2", "c": "3"}
    assert int(patched.metadata.resource_version) > int(updated.metadata.resource_version)
    await client.delete(config_pb2.ConfigMap, name, "default")
    with pytest.raises(errors.NotFound):
        await client.get("cm", name, "default")


async def test_list_pages_selectors_and_bind(client: ApiClient) -> None:
    names = [uniq("p") for _ in range(5)]
    for i, n in enumerate(names):
        await client.create(pod(n, labels={"tier": "web" if i % 2 else "db"}))
    page = await client.list(pod_pb2.Pod, "default", limit=2)
    assert len(page.items) == 2 and page.continue_token
    everything = await client.list_all(pod_pb2.Pod, "default", limit=2)
    assert sorted(p.metadata.name for p in everything.items) == sorted(names)
    web = await client.list(pod_pb2.Pod, "default", label_selector="tier=web")
    assert len(web.items) == 2
    await client.bind(names[0], "default", "node-a")
    bound = await client.list(pod_pb2.Pod, "", field_selector="spec.nodeName=node-a")
    assert [p.metadata.name for p in bound.items] == [names[0]]


async def test_watch_streams_changes(client: ApiClient) -> None:
    initial = await client.list(pod_pb2.Pod, "default")
    name = uniq("w")
    seen: list[tuple[str, str]] = []

    async def consume() -> None:
        async for ev in client.watch(pod_pb2.Pod, "default", resource_version=initial.resource_version):
            if ev.type != "BOOKMARK":
                seen.append((ev.type, ev.object.metadata.name))
            if len(seen) == 2:
                return

    task = asyncio.create_task(consume())
    await client.create(pod(name))
    await client.patch(pod_pb2.Pod, name, "default", {"metadata": {"labels": {"x": "y"}}})
    await asyncio.wait_for(task, 10)
    assert seen == [("ADDED", name), ("MODIFIED", name)]


async def wait_for(cond, within: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def test_informer_syncs_indexes_and_follows(client: ApiClient) -> None:
    first = uniq("i")
    await client.create(pod(first, node="n1"))
    inf: Informer[pod_pb2.Pod] = Informer(client, pod_pb2.Pod, field_selector="spec.nodeName=n1")
    inf.add_indexer("node", lambda p: [p.spec.node_name])
    events: list[tuple[str, str]] = []
    inf.add_handler(
        on_add=lambda p: events.append(("add", p.metadata.name)),
        on_update=lambda _o, n: events.append(("update", n.metadata.name)),
        on_delete=lambda p: events.append(("delete", p.metadata.name)),
    )
    task = asyncio.create_task(inf.run())
    try:
        await asyncio.wait_for(inf.wait_synced(), 10)
        assert inf.store.get(f"default/{first}") is not None
        await client.create(pod(uniq("other"), node="n2"))  # filtered out by the field selector
        second = uniq("i")
        await client.create(pod(second, node="n1"))
        await wait_for(lambda: inf.store.get(f"default/{second}") is not None)
        await client.patch(pod_pb2.Pod, second, "default", {"metadata": {"labels": {"v": "2"}}})
        await wait_for(lambda: ("update", second) in events)
        await client.delete(pod_pb2.Pod, second, "default", grace_period_seconds=0)
        await wait_for(lambda: ("delete", second) in events)
        assert [p.metadata.name for p in inf.store.by_index("node", "n1")] == [first]
        assert all(n.startswith("i-") for _, n in events)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_factory_shares_informers(client: ApiClient) -> None:
    factory = InformerFactory(client)
    a = factory.informer(node_pb2.Node)
    assert factory.informer(node_pb2.Node) is a
    assert factory.informer(pod_pb2.Pod) is not a
    factory.start()
    try:
        await asyncio.wait_for(factory.wait_synced(), 10)
        assert a.has_synced()
    finally:
        await factory.stop()


async def test_scale_subresource_and_discovery(client: ApiClient) -> None:
    from skiff.api.apps.v1 import apps_pb2

    name = uniq("rs")
    rs = apps_pb2.ReplicaSet(
        api_version="apps/v1", kind="ReplicaSet", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    rs.spec.replicas = 1
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    await client.create(rs)
    scale = await client.get_scale(apps_pb2.ReplicaSet, name, "default")
    assert scale.spec.replicas == 1
    scale.spec.replicas = 4
    await client.update_scale("replicasets", scale)
    assert (await client.get(apps_pb2.ReplicaSet, name, "default")).spec.replicas == 4
    resources = {r.name for r in await client.list_resources()}
    assert {"pods", "nodes", "replicasets"} <= resources
