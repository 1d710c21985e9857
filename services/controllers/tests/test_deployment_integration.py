"""The Deployment controller against a real etcd + apiserver (the test marks pods Ready, as a kubelet
would): rollout, rolling image update, rollback, Recreate, pause, progress deadline, minReadySeconds,
the scale subresource, history cleanup, and no writes for an unchanged Deployment."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from pod_readiness import readiness
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import event_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_client.controller import controller_ref
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_common.apimachinery.intstr import int_or_string
from skiff_controllers.app import ControllerManager
from skiff_controllers.deployment.util import HASH_LABEL, REVISION, REVISION_HISTORY, template_hash

pytestmark = pytest.mark.etcd
NS = "default"


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, ["replicaset", "deployment"])
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


def nginx_like(name: str, replicas: int = 3, image: str = "busybox") -> apps_pb2.Deployment:
    d = apps_pb2.Deployment(
        api_version="apps/v1", kind="Deployment", metadata=meta_pb2.ObjectMeta(name=name, namespace=NS)
    )
    d.metadata.labels["app"] = name
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = name
    d.spec.template.metadata.labels["app"] = name
    d.spec.template.spec.containers.add(name="nginx", image=image)
    return d


async def get(client: ApiClient, name: str) -> apps_pb2.Deployment:
    return await client.get(apps_pb2.Deployment, name, NS)


async def change(client: ApiClient, name: str, mutate: Callable[[apps_pb2.Deployment], None]) -> apps_pb2.Deployment:
    """Read-modify-write with retries: the controller writes status concurrently (Conflict), as kubectl
    retries its own edits."""
    for _ in range(20):
        d = await get(client, name)
        mutate(d)
        try:
            return await client.update(d)
        except errors.Conflict:
            await asyncio.sleep(0.05)
    raise AssertionError(f"could not update deployment {name}")


def set_image(image: str) -> Callable[[apps_pb2.Deployment], None]:
    def mutate(d: apps_pb2.Deployment) -> None:
        d.spec.template.spec.containers[0].image = image

    return mutate


async def rss_of(client: ApiClient, d: apps_pb2.Deployment) -> list[apps_pb2.ReplicaSet]:
    items = (await client.list(apps_pb2.ReplicaSet, NS)).items
    return [rs for rs in items if (ref := controller_ref(rs)) is not None and ref.uid == d.metadata.uid]


async def live_pods(client: ApiClient, name: str) -> list[pod_pb2.Pod]:
    pods = (await client.list(pod_pb2.Pod, NS, label_selector=f"app={name}")).items
    return [p for p in pods if not p.metadata.HasField("deletion_timestamp")]


def condition(d: apps_pb2.Deployment, type_: str) -> tuple[str, str]:
    c = next((c for c in d.status.conditions if c.type == type_), None)
    return (c.status, c.reason) if c is not None else ("", "")


async def complete(client: ApiClient, name: str, replicas: int, image: str | None = None) -> apps_pb2.Deployment:
    async def check() -> apps_pb2.Deployment | None:
        d = await get(client, name)
        s = d.status
        ok = (
            s.observed_generation >= d.metadata.generation
            and (s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas) == (replicas,) * 4
            and condition(d, "Progressing") == ("True", "NewReplicaSetAvailable")
            and condition(d, "Available") == ("True", "MinimumReplicasAvailable")
        )
        pods = await live_pods(client, name)
        if image is not None:
            ok = ok and all(p.spec.containers[0].image == image for p in pods)
        return d if ok and len(pods) == replicas else None

    return await eventually(check, f"deployment {name} complete with {replicas} replicas", within=90)


async def test_rollout_update_and_rollback(client: ApiClient, manager: ControllerManager) -> None:
    name = f"web-{uuid.uuid4().hex[:6]}"
    async with readiness(client):
        created = await client.create(nginx_like(name))
        d = await complete(client, name, 3)
        (rs1,) = await rss_of(client, d)
        h = template_hash(created.spec.template)
        assert rs1.metadata.name == f"{name}-{h}" and rs1.spec.template.metadata.labels[HASH_LABEL] == h
        assert rs1.metadata.annotations[REVISION] == "1" and d.metadata.annotations[REVISION] == "1"
        assert all(p.metadata.labels[HASH_LABEL] == h for p in await live_pods(client, name))

        # A rolling image update: a second ReplicaSet, the first scaled to 0.
        await change(client, name, set_image("busybox:1.36"))
        d = await complete(client, name, 3, image="busybox:1.36")
        rss = {rs.metadata.name: rs for rs in await rss_of(client, d)}
        assert len(rss) == 2 and rss[rs1.metadata.name].spec.replicas == 0
        (rs2,) = [rs for rs in rss.values() if rs.metadata.name != rs1.metadata.name]
        assert rs2.metadata.annotations[REVISION] == "2" and d.metadata.annotations[REVISION] == "2"

        # kubectl rollout undo: the template goes back to revision 1's (without its hash label).
        def undo(d: apps_pb2.Deployment) -> None:
            d.spec.template.CopyFrom(rs1.spec.template)
            del d.spec.template.metadata.labels[HASH_LABEL]

        await change(client, name, undo)
        d = await complete(client, name, 3, image="busybox")
        rss = {rs.metadata.name: rs for rs in await rss_of(client, d)}
        assert len(rss) == 2  # the old ReplicaSet is reused, not a third one
        back = rss[rs1.metadata.name]
        assert back.spec.replicas == 3 and back.metadata.annotations[REVISION] == "3"
        assert back.metadata.annotations[REVISION_HISTORY] == "1" and d.metadata.annotations[REVISION] == "3"

    await manager.ctx.events.flush()
    events = [
        e.message
        for e in (await client.list(event_pb2.Event, NS)).items
        if e.involved_object.uid == d.metadata.uid and e.reason == "ScalingReplicaSet"
    ]
    assert f"Scaled up replica set {rs1.metadata.name} from 0 to 3" in events
    assert any(m.startswith(f"Scaled down replica set {rs1.metadata.name} from 3 to ") for m in events)


async def test_unchanged_deployment_is_not_written(client: ApiClient, manager: ControllerManager) -> None:
    name = f"calm-{uuid.uuid4().hex[:6]}"
    async with readiness(client):
        await client.create(nginx_like(name, 2))
        d = await complete(client, name, 2)
    await asyncio.sleep(0.5)  # let the last status writes land in the cache
    before = await get(client, name)
    rss_before = {rs.metadata.name: rs.metadata.resource_version for rs in await rss_of(client, d)}
    loop = manager.loops["deployment"]
    count = loop.reconciles
    loop.enqueue(f"{NS}/{name}")
    await eventually(lambda: _true(loop.reconciles > count), "a resync reconcile")
    after = await get(client, name)
    assert after.metadata.resource_version == before.metadata.resource_version
    assert {rs.metadata.name: rs.metadata.resource_version for rs in await rss_of(client, d)} == rss_before


async def _true(value: bool) -> bool:
    return value


async def test_recreate_scales_old_to_zero_before_creating_new(client: ApiClient, manager: ControllerManager) -> None:
    name = f"rec-{uuid.uuid4().hex[:6]}"
    dep = nginx_like(name, 2)
    dep.spec.strategy.type = "Recreate"
    async with readiness(client):
        await client.create(dep)
        await complete(client, name, 2)
        seen_mixed = False

        async def watch_mix() -> None:
            nonlocal seen_mixed
            while True:
                images = {p.spec.containers[0].image for p in await live_pods(client, name)}
                seen_mixed = seen_mixed or len(images) > 1
                await asyncio.sleep(0.05)

        watcher = asyncio.create_task(watch_mix())
        await change(client, name, set_image("busybox:1.36"))
        await complete(client, name, 2, image="busybox:1.36")
        watcher.cancel()
    assert not seen_mixed  # never old and new pods at once


async def test_paused_deployment_does_not_roll_out_until_resumed(client: ApiClient, manager: ControllerManager) -> None:
    name = f"pause-{uuid.uuid4().hex[:6]}"
    async with readiness(client):
        await client.create(nginx_like(name, 2))
        await complete(client, name, 2)
        await change(client, name, lambda d: setattr(d.spec, "paused", True))

        async def paused() -> bool:
            return condition(await get(client, name), "Progressing") == ("Unknown", "DeploymentPaused")

        await eventually(paused, "Progressing=Unknown DeploymentPaused")

        def update_and_scale(d: apps_pb2.Deployment) -> None:
            d.spec.template.spec.containers[0].image = "busybox:1.36"
            d.spec.replicas = 3  # scaling still happens while paused

        d = await change(client, name, update_and_scale)

        async def scaled() -> bool:
            pods = await live_pods(client, name)
            return len(pods) == 3

        await eventually(scaled, "scaled to 3 while paused")
        assert len(await rss_of(client, d)) == 1  # no rollout while paused
        await change(client, name, lambda d: setattr(d.spec, "paused", False))
        await complete(client, name, 3, image="busybox:1.36")


async def test_progress_deadline_exceeded_when_pods_never_become_ready(
    client: ApiClient, manager: ControllerManager
) -> None:
    name = f"stuck-{uuid.uuid4().hex[:6]}"
    dep = nginx_like(name, 2)
    dep.spec.progress_deadline_seconds = 2
    await client.create(dep)  # no readiness: pods stay Pending

    async def timed_out() -> apps_pb2.Deployment | None:
        d = await get(client, name)
        return d if condition(d, "Progressing") == ("False", "ProgressDeadlineExceeded") else None

    d = await eventually(timed_out, "ProgressDeadlineExceeded")
    assert condition(d, "Available") == ("False", "MinimumReplicasUnavailable")
    assert d.status.unavailable_replicas == 2


async def test_min_ready_seconds_delays_availability(client: ApiClient, manager: ControllerManager) -> None:
    name = f"mrs-{uuid.uuid4().hex[:6]}"
    dep = nginx_like(name, 1)
    dep.spec.min_ready_seconds = 2
    async with readiness(client):
        await client.create(dep)

        async def ready_not_available() -> bool:
            s = (await get(client, name)).status
            return s.ready_replicas == 1

        await eventually(ready_not_available, "ready pod")
        s = (await get(client, name)).status
        assert s.available_replicas == 0  # ready, but not yet for minReadySeconds
        await complete(client, name, 1)


async def test_scale_subresource_and_history_limit(client: ApiClient, manager: ControllerManager) -> None:
    name = f"hist-{uuid.uuid4().hex[:6]}"
    dep = nginx_like(name, 1)
    dep.spec.revision_history_limit = 1
    dep.spec.strategy.rolling_update.max_surge.CopyFrom(int_or_string(1))
    dep.spec.strategy.rolling_update.max_unavailable.CopyFrom(int_or_string(0))
    async with readiness(client):
        await client.create(dep)
        await complete(client, name, 1)
        for image in ("busybox:1.35", "busybox:1.36"):
            await change(client, name, set_image(image))
            await complete(client, name, 1, image=image)

        async def pruned() -> bool:
            return len(await rss_of(client, await get(client, name))) == 2  # current + 1 of history

        await eventually(pruned, "history pruned to revisionHistoryLimit")
        scale = await client.get_scale(apps_pb2.Deployment, name, NS)
        scale.spec.replicas = 4
        await client.update_scale(apps_pb2.Deployment, scale)
        await complete(client, name, 4, image="busybox:1.36")
