"""DaemonSet history as ControllerRevisions against a real apiserver: one revision per template, the
pods' controller-revision-hash from the current one, a rollback renumbering the old revision instead of
making a new one, revisionHistoryLimit pruning, and orphaned history adopted by a re-created DaemonSet."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from daemonset_testlib import daemonset, fake_kubelets, live_by_node, set_image
from nodes_testlib import add_node, running
from skiff.api.apps.v1 import apps_pb2
from skiff.api.apps.v1.controllerrevision_pb2 import ControllerRevision
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_common.apimachinery import convert
from skiff_controllers.daemonset.controller import DaemonSetController
from skiff_controllers.garbagecollector.controller import GarbageCollector

pytestmark = pytest.mark.etcd
HASH = "controller-revision-hash"


@pytest.fixture
async def dsc(client: ApiClient) -> AsyncIterator[DaemonSetController]:
    async with running(client, DaemonSetController) as c:
        yield c


async def revisions(client: ApiClient, name: str) -> list[ControllerRevision]:
    items = (await client.list(ControllerRevision, "default", label_selector=f"name={name}")).items
    return sorted(items, key=lambda r: r.revision)


async def rolled_to(client: ApiClient, name: str, nodes: list[str], image: str) -> str | None:
    """The pods' common hash once every node runs exactly one pod of `image`."""
    by_node = await live_by_node(client, name)
    if sorted(by_node) != sorted(nodes) or any(len(v) != 1 for v in by_node.values()):
        return None
    pods = [v[0] for v in by_node.values()]
    hashes = {p.metadata.labels[HASH] for p in pods}
    if {p.spec.containers[0].image for p in pods} != {image} or len(hashes) != 1:
        return None
    return hashes.pop()


async def undo_to(client: ApiClient, name: str, rev: ControllerRevision) -> None:
    """What `kubectl rollout undo daemonset --to-revision` does: put the revision's template back."""
    template = convert.to_dict(rev.data)["spec"]["template"]
    template.pop("$patch")
    for _ in range(10):
        ds = await client.get(apps_pb2.DaemonSet, name, "default")
        ds.spec.template.CopyFrom(convert.from_dict(template, type(ds.spec.template)))
        try:
            await client.update(ds)
            return
        except errors.Conflict:
            continue


async def test_revisions_follow_the_template_and_rollback_renumbers(
    client: ApiClient, dsc: DaemonSetController
) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"hist{i}-{tag}" for i in range(2)]
    for n in nodes:
        await add_node(client, n, labels={"tag": tag})
    name = f"hist-{tag}"
    ds = await client.create(daemonset(name, selector={"tag": tag}))
    async with fake_kubelets(client, name):
        h1 = await eventually(lambda: rolled_to(client, name, nodes, "busybox:1"), "2 pods of busybox:1")
        (r1,) = await revisions(client, name)
        assert (r1.metadata.name, r1.revision, r1.metadata.labels[HASH]) == (f"{name}-{h1}", 1, h1)
        assert [(o.kind, o.uid, o.controller) for o in r1.metadata.owner_references] == [
            ("DaemonSet", ds.metadata.uid, True)
        ]
        data = convert.to_dict(r1.data)
        assert data["spec"]["template"]["$patch"] == "replace"
        assert data["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:1"

        await set_image(client, name, "busybox:2")
        h2 = await eventually(lambda: rolled_to(client, name, nodes, "busybox:2"), "rolled to busybox:2")
        assert h2 != h1
        assert [(r.revision, r.metadata.labels[HASH]) for r in await revisions(client, name)] == [(1, h1), (2, h2)]

        # Rollback: the old revision becomes current again under a new number; no third revision.
        await undo_to(client, name, r1)
        back = await eventually(lambda: rolled_to(client, name, nodes, "busybox:1"), "rolled back to busybox:1")
        assert back == h1

        async def renumbered() -> bool:
            return [(r.revision, r.metadata.labels[HASH]) for r in await revisions(client, name)] == [(2, h2), (3, h1)]

        await eventually(renumbered, "revision 1 renumbered 3")


async def test_history_limit_prunes_old_revisions_no_pod_runs(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    node = f"prune-{tag}"
    await add_node(client, node, labels={"tag": tag})
    name = f"prune-{tag}"
    ds = daemonset(name, selector={"tag": tag})
    ds.spec.revision_history_limit = 1
    await client.create(ds)
    async with fake_kubelets(client, name):
        for image in ("busybox:1", "busybox:2", "busybox:3"):
            if image != "busybox:1":
                await set_image(client, name, image)
            await eventually(lambda image=image: rolled_to(client, name, [node], image), f"rolled to {image}")  # type: ignore[misc]

        async def pruned() -> bool:
            return [r.revision for r in await revisions(client, name)] == [2, 3]  # current + 1 old

        await eventually(pruned, "only the current revision and one old one left")


async def test_orphaned_history_is_adopted_by_a_new_daemonset(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    await add_node(client, f"adopt-{tag}", labels={"tag": tag})
    name = f"adopt-{tag}"
    first = await client.create(daemonset(name, selector={"tag": tag}))
    (r1,) = await eventually(lambda: revisions(client, name), "revision 1")

    async def orphaned() -> bool:
        try:
            await client.get(apps_pb2.DaemonSet, name, "default")
            return False
        except errors.NotFound:
            pass
        (r,) = await revisions(client, name)
        return not r.metadata.owner_references

    async with running(client, GarbageCollector):  # carries out the orphan finalizer
        await client.delete(apps_pb2.DaemonSet, name, "default", propagation_policy="Orphan")
        await eventually(orphaned, "the DaemonSet gone and its revision orphaned")

    second = await client.create(daemonset(name, selector={"tag": tag}))
    assert second.metadata.uid != first.metadata.uid

    async def adopted() -> bool:
        (r,) = await revisions(client, name)
        return r.metadata.uid == r1.metadata.uid and [o.uid for o in r.metadata.owner_references] == [
            second.metadata.uid
        ]

    await eventually(adopted, "the same revision adopted by the new DaemonSet")
