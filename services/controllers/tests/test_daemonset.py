"""The DaemonSet controller against a real apiserver, with fake Node objects: the test plays the
scheduler (binds each pod to the node its affinity pins) and the kubelet (marks pods Running and Ready,
confirms graceful deletes)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from daemonset_testlib import daemonset, fake_kubelets, live_by_node, pods_of, set_image
from nodes_testlib import add_node, running
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_controllers.daemonset.controller import DaemonSetController

pytestmark = pytest.mark.etcd


@pytest.fixture
async def dsc(client: ApiClient) -> AsyncIterator[DaemonSetController]:
    async with running(client, DaemonSetController) as c:
        yield c


async def test_one_pod_per_eligible_node_with_status(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"ssd1-{tag}", f"ssd2-{tag}", f"hdd-{tag}"]
    for n in nodes:
        await add_node(client, n, labels={"disk": "hdd" if n.startswith("hdd") else "ssd", "tag": tag})
    name = f"ds-{tag}"
    await client.create(daemonset(name, selector={"disk": "ssd", "tag": tag}))
    async with fake_kubelets(client, name):

        async def on_ssd_nodes() -> bool:
            by_node = await live_by_node(client, name)
            return sorted(by_node) == sorted(nodes[:2]) and all(len(v) == 1 for v in by_node.values())

        await eventually(on_ssd_nodes, "one pod on each ssd node")
        pod = (await live_by_node(client, name))[nodes[0]][0]
        assert "controller-revision-hash" in pod.metadata.labels
        assert pod.metadata.labels["pod-template-generation"] == "1"
        tols = {(t.key, t.effect, t.HasField("toleration_seconds")) for t in pod.spec.tolerations}
        assert ("node.kubernetes.io/not-ready", "NoExecute", False) in tols
        assert ("node.kubernetes.io/unschedulable", "NoSchedule", False) in tols
        ref = pod.metadata.owner_references[0]
        assert (ref.kind, ref.controller, ref.block_owner_deletion) == ("DaemonSet", True, True)

        async def status_is(desired: int) -> bool:
            st = (await client.get(apps_pb2.DaemonSet, name, "default")).status
            return (
                st.desired_number_scheduled,
                st.current_number_scheduled,
                st.number_ready,
                st.number_available,
                st.updated_number_scheduled,
                st.number_misscheduled,
                st.observed_generation,
            ) == (desired, desired, desired, desired, desired, 0, 1)

        await eventually(lambda: status_is(2), "status 2/2 ready and available")
        # A node gains the label: it gets a pod too.
        hdd = await client.get(node_pb2.Node, nodes[2])
        hdd.metadata.labels["disk"] = "ssd"
        await client.update(hdd)
        await eventually(lambda: status_is(3), "status 3/3 after the label change")
        # An untolerated NoExecute taint makes the node ineligible: its pod goes.
        n0 = await client.get(node_pb2.Node, nodes[0])
        n0.spec.taints.add(key="example.com/evict", effect="NoExecute")
        await client.update(n0)

        async def left_tainted_node() -> bool:
            return nodes[0] not in await live_by_node(client, name)

        await eventually(left_tainted_node, "pod removed from the NoExecute-tainted node")
        # Deleting a pod by hand: the controller puts a new one back on that node.
        victim = (await live_by_node(client, name))[nodes[1]][0]
        await client.delete(pod_pb2.Pod, victim.metadata.name, "default")

        async def replaced() -> bool:
            pods = (await live_by_node(client, name)).get(nodes[1], [])
            return len(pods) == 1 and pods[0].metadata.name != victim.metadata.name

        await eventually(replaced, "replacement pod on the same node")


async def test_rolling_update_keeps_max_unavailable(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"roll{i}-{tag}" for i in range(4)]
    for n in nodes:
        await add_node(client, n, labels={"tag": tag})
    name = f"roll-{tag}"
    await client.create(daemonset(name, selector={"tag": tag}))
    async with fake_kubelets(client, name):

        async def all_ready(image: str) -> bool:
            by_node = await live_by_node(client, name)
            return sorted(by_node) == sorted(nodes) and all(
                len(v) == 1
                and v[0].spec.containers[0].image == image
                and any(c.type == "Ready" and c.status == "True" for c in v[0].status.conditions)
                for v in by_node.values()
            )

        await eventually(lambda: all_ready("busybox:1"), "4 ready pods")
        await set_image(client, name, "busybox:2")
        worst = len(nodes)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not await all_ready("busybox:2"):
            by_node = await live_by_node(client, name)
            ready_nodes = sum(
                1
                for v in by_node.values()
                if any(any(c.type == "Ready" and c.status == "True" for c in p.status.conditions) for p in v)
            )
            worst = min(worst, ready_nodes)
            assert loop.time() < deadline, "rolling update did not finish"
            await asyncio.sleep(0.05)
        assert worst >= len(nodes) - 1  # maxUnavailable 1 (the default)

        async def updated_status() -> bool:
            st = (await client.get(apps_pb2.DaemonSet, name, "default")).status
            return st.updated_number_scheduled == 4 and st.number_available == 4 and st.observed_generation == 2

        await eventually(updated_status, "status: 4 updated and available")
        pod = (await live_by_node(client, name))[nodes[0]][0]
        assert pod.metadata.labels["pod-template-generation"] == "2"


async def test_on_delete_waits_for_a_manual_delete(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"od{i}-{tag}" for i in range(2)]
    for n in nodes:
        await add_node(client, n, labels={"tag": tag})
    name = f"od-{tag}"
    await client.create(daemonset(name, selector={"tag": tag}, strategy="OnDelete"))
    async with fake_kubelets(client, name):

        async def two() -> dict[str, list[pod_pb2.Pod]] | None:
            by_node = await live_by_node(client, name)
            return by_node if len(by_node) == 2 else None

        before = await eventually(two, "2 pods")
        await set_image(client, name, "busybox:2")

        async def observed() -> bool:
            return (await client.get(apps_pb2.DaemonSet, name, "default")).status.observed_generation == 2

        await eventually(observed, "generation 2 observed")
        still = await live_by_node(client, name)
        assert {v[0].metadata.name for v in still.values()} == {v[0].metadata.name for v in before.values()}
        victim = still[nodes[0]][0]
        await client.delete(pod_pb2.Pod, victim.metadata.name, "default")

        async def new_image() -> bool:
            pods = (await live_by_node(client, name)).get(nodes[0], [])
            return len(pods) == 1 and pods[0].spec.containers[0].image == "busybox:2"

        await eventually(new_image, "the replacement runs the new template")
        assert (await live_by_node(client, name))[nodes[1]][0].spec.containers[0].image == "busybox:1"


async def test_rolling_update_with_surge_starts_new_pods_first(client: ApiClient, dsc: DaemonSetController) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"surge{i}-{tag}" for i in range(3)]
    for n in nodes:
        await add_node(client, n, labels={"tag": tag})
    name = f"surge-{tag}"
    ds = daemonset(name, selector={"tag": tag})
    ds.spec.update_strategy.rolling_update.max_unavailable.int_val = 0
    ds.spec.update_strategy.rolling_update.max_surge.int_val = 1
    await client.create(ds)
    async with fake_kubelets(client, name):

        async def ready_nodes(image: str | None = None) -> int:
            return sum(
                1
                for v in (await live_by_node(client, name)).values()
                if any(
                    (image is None or p.spec.containers[0].image == image)
                    and any(c.type == "Ready" and c.status == "True" for c in p.status.conditions)
                    for p in v
                )
            )

        await eventually(lambda: _equals(ready_nodes(), 3), "3 ready pods")
        await set_image(client, name, "busybox:2")
        fewest, most = 3, 3
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while await ready_nodes("busybox:2") < 3 or len(await pods_of(client, name)) > 3:
            fewest = min(fewest, await ready_nodes())
            most = max(
                most, len([p for p in await pods_of(client, name) if not p.metadata.HasField("deletion_timestamp")])
            )
            assert loop.time() < deadline, "surge rollout did not finish"
            await asyncio.sleep(0.05)
        assert fewest == 3  # maxUnavailable 0: every node always had a ready daemon
        assert most <= 4  # maxSurge 1: at most one extra pod at a time


async def _equals(value, expected) -> bool:  # type: ignore[no-untyped-def]
    return await value == expected


async def test_a_restarted_controller_makes_no_second_pod(client: ApiClient) -> None:
    tag = uuid.uuid4().hex[:6]
    nodes = [f"rst{i}-{tag}" for i in range(3)]
    for n in nodes:
        await add_node(client, n, labels={"tag": tag})
    name = f"rst-{tag}"
    async with running(client, DaemonSetController):
        await client.create(daemonset(name, selector={"tag": tag}))

        async def three() -> dict[str, list[pod_pb2.Pod]] | None:
            by_node = await live_by_node(client, name)
            return by_node if len(by_node) == 3 and all(len(v) == 1 for v in by_node.values()) else None

        before = await eventually(three, "3 pods")
    # A new controller (empty expectations, fresh caches) takes over: it adopts nothing new, creates
    # nothing, deletes nothing, and its first status write reflects the pods already there.
    async with running(client, DaemonSetController) as again:

        async def reconciled() -> bool:
            return again.loop.reconciles > 0 and len(again.loop.queue) == 0

        await eventually(reconciled, "the new controller reconciled")
        after = await live_by_node(client, name)
    names = lambda m: {p.metadata.name for v in m.values() for p in v}  # noqa: E731
    assert names(after) == names(before)
