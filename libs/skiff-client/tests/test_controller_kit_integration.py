"""The controller kit against a real etcd + apiserver: claim / adopt / release by UID, PodControl with
its Events, and a builder-made controller reconciling from live informers."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import event_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, EventRecorder, InformerFactory
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    ControllerBuilder,
    ControllerRefManager,
    PodControl,
    Result,
    controller_ref,
    new_controller_ref,
)
from skiff_cluster_fixture import eventually
from skiff_common import errors

pytestmark = pytest.mark.etcd


def _rs(name: str) -> apps_pb2.ReplicaSet:
    rs = apps_pb2.ReplicaSet(
        api_version="apps/v1", kind="ReplicaSet", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )
    rs.spec.replicas = 0
    rs.spec.selector.match_labels["app"] = name
    rs.spec.template.metadata.labels["app"] = name
    rs.spec.template.spec.containers.add(name="c", image="busybox")
    return rs


def _pod(name: str, app: str) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    pod.metadata.labels["app"] = app
    pod.spec.containers.add(name="c", image="busybox")
    return pod


async def test_claim_adopts_matching_orphans_releases_strays_and_ignores_other_owners(client: ApiClient) -> None:
    app = f"k{uuid.uuid4().hex[:6]}"
    rs = await client.create(_rs(app))
    other = await client.create(_rs(f"{app}-other"))
    orphan = await client.create(_pod(f"{app}-orphan", app))
    stranger = await client.create(_pod(f"{app}-stranger", "unrelated"))
    stray = _pod(f"{app}-stray", "moved-away")
    stray.metadata.owner_references.append(new_controller_ref(rs, "apps/v1", "ReplicaSet"))
    stray = await client.create(stray)
    taken = _pod(f"{app}-taken", app)
    taken.metadata.owner_references.append(new_controller_ref(other, "apps/v1", "ReplicaSet"))
    taken = await client.create(taken)
    # A pod naming our ReplicaSet by name but with a different UID is not ours (by UID, not name).
    impostor = _pod(f"{app}-impostor", app)
    ref = new_controller_ref(rs, "apps/v1", "ReplicaSet")
    ref.uid = "not-" + rs.metadata.uid
    impostor.metadata.owner_references.append(ref)
    impostor = await client.create(impostor)

    mgr = ControllerRefManager(client, rs, "apps/v1", "ReplicaSet", lambda p: p.metadata.labels.get("app") == app)
    claimed = await mgr.claim([orphan, stranger, stray, taken, impostor])
    assert [p.metadata.name for p in claimed] == [f"{app}-orphan"]
    live = await client.get(pod_pb2.Pod, f"{app}-orphan", "default")
    assert controller_ref(live) is not None and controller_ref(live).uid == rs.metadata.uid  # type: ignore[union-attr]
    released = await client.get(pod_pb2.Pod, f"{app}-stray", "default")
    assert controller_ref(released) is None
    assert controller_ref(await client.get(pod_pb2.Pod, f"{app}-stranger", "default")) is None
    assert controller_ref(await client.get(pod_pb2.Pod, f"{app}-taken", "default")).uid == other.metadata.uid  # type: ignore[union-attr]


async def test_no_adoption_for_an_owner_that_was_replaced(client: ApiClient) -> None:
    """RecheckDeletionTimestamp: the cached owner is stale (deleted and re-created): adopt nothing."""
    app = f"k{uuid.uuid4().hex[:6]}"
    stale = await client.create(_rs(app))
    await client.delete(apps_pb2.ReplicaSet, app, "default")
    await eventually(lambda: _gone(client, app), "old ReplicaSet gone")
    await client.create(_rs(app))
    orphan = await client.create(_pod(f"{app}-orphan", app))
    mgr = ControllerRefManager(client, stale, "apps/v1", "ReplicaSet", lambda p: True)
    assert await mgr.claim([orphan]) == []
    assert controller_ref(await client.get(pod_pb2.Pod, orphan.metadata.name, "default")) is None


async def _gone(client: ApiClient, name: str) -> bool:
    try:
        await client.get(apps_pb2.ReplicaSet, name, "default")
    except errors.NotFound:
        return True
    return False


async def test_pod_control_creates_from_template_and_deletes_with_events(client: ApiClient) -> None:
    app = f"k{uuid.uuid4().hex[:6]}"
    rs = await client.create(_rs(app))
    events = EventRecorder(client, "kit-test")
    control = PodControl(client, events)
    pod = await control.create_from_template(
        rs.spec.template,
        rs,
        new_controller_ref(rs, "apps/v1", "ReplicaSet"),
        namespace="default",
        mutate=lambda p: p.metadata.labels.__setitem__("extra", "yes"),
    )
    assert pod.metadata.name.startswith(f"{app}-") and pod.metadata.labels["extra"] == "yes"
    assert await control.delete(pod, rs)
    assert not await control.delete(pod, rs)  # already gone (NotFound): no second event, no FailedDelete
    # A new pod took the name: the UID precondition fails, the old pod is gone, the new one stays.
    twin = _pod(pod.metadata.name, app)
    twin = await client.create(twin)
    assert not await control.delete(pod, rs)
    assert (await client.get(pod_pb2.Pod, twin.metadata.name, "default")).metadata.uid == twin.metadata.uid
    await events.flush()
    evs = (await client.list(event_pb2.Event, "default")).items
    mine = sorted((e.reason, e.message) for e in evs if e.involved_object.uid == rs.metadata.uid)
    assert mine == [
        ("SuccessfulCreate", f"Created pod: {pod.metadata.name}"),
        ("SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"),
    ]
    await client.delete(pod_pb2.Pod, twin.metadata.name, "default")


async def test_builder_controller_sees_owned_pods_through_the_uid_index(client: ApiClient) -> None:
    app = f"k{uuid.uuid4().hex[:6]}"
    factory = InformerFactory(client)
    seen: dict[str, int] = {}
    pods_inf = factory.informer(pod_pb2.Pod)
    rs_inf = factory.informer(apps_pb2.ReplicaSet)

    async def reconcile(key: str) -> Result | None:
        rs = rs_inf.store.get(key)
        if rs is not None:
            seen[key] = len(pods_inf.store.by_index(CONTROLLER_UID_INDEX, rs.metadata.uid))
        return None

    loop = ControllerBuilder("kit-it", factory).for_(apps_pb2.ReplicaSet).owns(pod_pb2.Pod).complete(reconcile)
    factory.start()
    task = asyncio.create_task(loop.run())
    try:
        rs = await client.create(_rs(app))
        key = f"default/{app}"
        await eventually(lambda: _async(seen.get(key) == 0), "first reconcile")
        pod = _pod(f"{app}-p", app)
        pod.metadata.owner_references.append(new_controller_ref(rs, "apps/v1", "ReplicaSet"))
        await client.create(pod)
        await eventually(lambda: _async(seen.get(key) == 1), "reconcile woken by the owned pod")
    finally:
        loop.shutdown()
        await task
        await factory.stop()


async def _async(value: bool) -> bool:
    return value
