"""The scheduler against a real apiserver on etcd: failure reporting, PriorityClass admission and
preemption, profiles by schedulerName, leader election, metrics. Node objects stand in for kubelets;
where a kubelet would confirm a pod's deletion, the test does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import REGISTRY
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import event_pb2, node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.api.scheduling.v1 import priorityclass_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_scheduler.app import SchedulerApp
from skiff_scheduler.profile import parse_configuration

pytestmark = pytest.mark.etcd


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:5]}"


async def add_node(
    client: ApiClient,
    name: str,
    cpu: str,
    *,
    labels: dict[str, str] | None = None,
    taints: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
) -> None:
    node = node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=name, labels=labels or {}))
    for k, v, e in taints or []:
        node.spec.taints.add(key=k, value=v, effect=e)
    node = await client.create(node)
    node.status.conditions.add(type="Ready", status="True")
    for k, v in (("cpu", cpu), ("memory", "4Gi"), ("pods", "10")):
        node.status.allocatable[k].value = v
        node.status.capacity[k].value = v
    await client.update_status(node)


def make_pod(name: str, cpu: str, ns: str = "default", **spec: Any) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace=ns))
    c = pod.spec.containers.add(name="c", image="busybox")
    c.resources.requests["cpu"].value = cpu
    pod.spec.termination_grace_period_seconds = 0
    for k, v in spec.items():
        setattr(pod.spec, k, v)
    return pod


async def get_pod(client: ApiClient, name: str) -> pod_pb2.Pod:
    return await client.get(pod_pb2.Pod, name, "default")


async def started(app: SchedulerApp) -> SchedulerApp:
    await app.start()
    return app


@pytest.fixture
async def scheduler(client: ApiClient) -> AsyncIterator[SchedulerApp]:
    app = await started(SchedulerApp(client))
    try:
        yield app
    finally:
        await app.stop()


async def test_failure_message_event_and_condition_are_kube_schedulers(
    client: ApiClient, scheduler: SchedulerApp
) -> None:
    tag = uniq("f")
    await add_node(client, f"{tag}-small", "1", labels={"grp": tag})
    for i in range(2):
        await add_node(client, f"{tag}-gpu{i}", "8", labels={"grp": tag}, taints=[("dedicated", "gpu", "NoSchedule")])
    pod = make_pod("needs-2", "2")
    pod.spec.node_selector["grp"] = tag
    await client.create(pod)
    others = len((await client.list(node_pb2.Node)).items) - 3
    want = (
        f"0/{others + 3} nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {{dedicated: gpu}}"
        + (f", {others} node(s) didn't match Pod's node affinity/selector" if others else "")
        + f". preemption: 0/{others + 3} nodes are available: 1 No preemption victims found for incoming pod, "
        + f"{others + 2} Preemption is not helpful for scheduling."
    )

    async def condition() -> Any:
        p = await get_pod(client, "needs-2")
        return next((c for c in p.status.conditions if c.type == "PodScheduled" and c.status == "False"), None)

    cond = await eventually(condition, "PodScheduled=False")
    assert cond.reason == "Unschedulable"
    assert cond.message == want

    async def events() -> list[event_pb2.Event]:
        evs = (await client.list(event_pb2.Event, "default")).items
        return [e for e in evs if e.reason == "FailedScheduling" and e.involved_object.name == "needs-2"]

    evs = await eventually(events, "FailedScheduling event")
    assert len(evs) == 1 and evs[0].message == want and evs[0].type == "Warning"
    # the pod is parked, not retried on a timer: an unrelated node update does not wake it
    assert scheduler.queue.where("default/needs-2") == "unschedulable"
    # a node that fits arrives: Scheduled event and binding
    await add_node(client, f"{tag}-big", "4", labels={"grp": tag})
    assert await eventually(lambda: _node_of(client, "needs-2"), "bound") == f"{tag}-big"

    async def scheduled() -> bool:
        evs = (await client.list(event_pb2.Event, "default")).items
        return any(
            e.reason == "Scheduled" and e.message == f"Successfully assigned default/needs-2 to {tag}-big" for e in evs
        )

    await eventually(scheduled, "Scheduled event")
    assert REGISTRY.get_sample_value(
        "scheduler_schedule_attempts_total", {"result": "scheduled", "profile": "default-scheduler"}
    )
    assert REGISTRY.get_sample_value(
        "scheduler_schedule_attempts_total", {"result": "unschedulable", "profile": "default-scheduler"}
    )
    assert REGISTRY.get_sample_value("scheduler_pod_scheduling_sli_duration_seconds_count", {"attempts": "2"})
    assert REGISTRY.get_sample_value("scheduler_pending_pods", {"queue": "active"}) is not None


async def _node_of(client: ApiClient, name: str) -> str:
    return (await get_pod(client, name)).spec.node_name


def priority_class(name: str, value: int, **kw: Any) -> priorityclass_pb2.PriorityClass:
    return priorityclass_pb2.PriorityClass(
        api_version="scheduling.k8s.io/v1",
        kind="PriorityClass",
        metadata=meta_pb2.ObjectMeta(name=name),
        value=value,
        **kw,
    )


async def test_priority_admission_resolves_classes(client: ApiClient) -> None:
    high = uniq("high")
    await client.create(priority_class(high, 1000, preemption_policy="Never"))
    created = await client.create(make_pod(uniq("p"), "1", priority_class_name=high))
    assert created.spec.priority == 1000 and created.spec.preemption_policy == "Never"
    plain = await client.create(make_pod(uniq("p"), "1"))
    assert plain.spec.priority == 0 and plain.spec.preemption_policy == "PreemptLowerPriority"
    crit = await client.create(make_pod(uniq("p"), "1", priority_class_name="system-node-critical"))
    assert crit.spec.priority == 2000001000
    with pytest.raises(errors.Forbidden, match="no PriorityClass with name nope was found"):
        await client.create(make_pod(uniq("p"), "1", priority_class_name="nope"))
    wrong = make_pod(uniq("p"), "1", priority_class_name=high)
    wrong.spec.priority = 5
    with pytest.raises(errors.Forbidden, match=r"computed 1000 from the given PriorityClass name"):
        await client.create(wrong)
    with pytest.raises(errors.Invalid, match="value"):
        await client.create(priority_class(uniq("huge"), 2_000_000_000))
    with pytest.raises(errors.Invalid, match=r"metadata\.name"):
        await client.create(priority_class("system-mine", 10))


async def test_preemption_evicts_lower_priority_and_nominates(client: ApiClient, scheduler: SchedulerApp) -> None:
    tag = uniq("pre")
    low, high = uniq("low"), uniq("high")
    await client.create(priority_class(low, 10))
    await client.create(priority_class(high, 100))
    await add_node(client, tag, "2", labels={"grp": tag})
    for i in range(2):
        p = make_pod(f"{tag}-low{i}", "1", priority_class_name=low)
        p.spec.node_selector["grp"] = tag
        await client.create(p)
    for i in range(2):
        assert await eventually(lambda i=i: _node_of(client, f"{tag}-low{i}"), "low bound") == tag
    boss = make_pod(f"{tag}-boss", "1", priority_class_name=high)
    boss.spec.node_selector["grp"] = tag
    await client.create(boss)

    async def nominated() -> str:
        return (await get_pod(client, f"{tag}-boss")).status.nominated_node_name

    assert await eventually(nominated, "nominatedNodeName") == tag

    async def victims_marked() -> list[str]:
        out = []
        for i in range(2):
            try:
                p = await get_pod(client, f"{tag}-low{i}")
            except errors.NotFound:
                out.append(f"{tag}-low{i}")  # grace 0: deleted at once
                continue
            if p.metadata.HasField("deletion_timestamp"):
                out.append(p.metadata.name)
                # what the kubelet would do: confirm the victim's deletion
                await client.delete(pod_pb2.Pod, p.metadata.name, "default", grace_period_seconds=0)
        return out

    victims = await eventually(victims_marked, "a victim deleted")
    assert len(victims) == 1
    assert await eventually(lambda: _node_of(client, f"{tag}-boss"), "preemptor bound") == tag

    async def preempted_event() -> bool:
        evs = (await client.list(event_pb2.Event, "default")).items
        return any(e.reason == "Preempted" and e.involved_object.name == victims[0] for e in evs)

    await eventually(preempted_event, "Preempted event")
    assert REGISTRY.get_sample_value("scheduler_preemption_victims_count")


async def test_profiles_are_chosen_by_scheduler_name(client: ApiClient) -> None:
    config = parse_configuration(
        "profiles:\n- schedulerName: default-scheduler\n- schedulerName: packer\n"
        "  pluginConfig:\n  - name: NodeResourcesFit\n    args: {scoringStrategy: {type: MostAllocated}}\n"
        "  plugins:\n    score:\n      disabled: [{name: NodeResourcesBalancedAllocation}]\n"
    )
    app = await started(SchedulerApp(client, config))
    try:
        tag = uniq("pk")
        await add_node(client, f"{tag}-a", "4", labels={"grp": tag})
        await add_node(client, f"{tag}-b", "4", labels={"grp": tag})
        names = []
        for i in range(3):
            p = make_pod(f"{tag}-{i}", "1", scheduler_name="packer")
            p.spec.node_selector["grp"] = tag
            await client.create(p)
            names.append(await eventually(lambda i=i: _node_of(client, f"{tag}-{i}"), "bound"))
        assert len(set(names)) == 1  # MostAllocated packs them onto one node
        stray = make_pod(f"{tag}-x", "1", scheduler_name="someone-else")
        await client.create(stray)
        assert app.queue.where(f"default/{tag}-x") == ""  # not ours: never queued
    finally:
        await app.stop()


async def test_only_the_leader_schedules(client: ApiClient) -> None:
    apps = [SchedulerApp(client, leader_elect=True, identity=f"replica-{i}") for i in range(2)]
    for app in apps:
        assert app.elector is not None
        app.elector.lease_duration, app.elector.renew_deadline, app.elector.retry_period = 2, 1.5, 0.2
        await app.start()
    try:
        leader = await eventually(lambda: _leader(apps), "a leader")
        assert sum(a.is_leader for a in apps) == 1
        lease = await client.get(lease_pb2.Lease, "kube-scheduler", "kube-system")
        assert lease.spec.holder_identity == f"replica-{apps.index(leader)}"
        tag = uniq("le")
        await add_node(client, tag, "4", labels={"grp": tag})
        p = make_pod(f"{tag}-1", "1")
        p.spec.node_selector["grp"] = tag
        await client.create(p)
        assert await eventually(lambda: _node_of(client, f"{tag}-1"), "bound") == tag
        follower = next(a for a in apps if a is not leader)
        assert follower.scheduler.scheduled == 0
        await leader.stop()
        apps.remove(leader)
        await eventually(lambda: _leader([follower]), "follower takes over")
        p = make_pod(f"{tag}-2", "1")
        p.spec.node_selector["grp"] = tag
        await client.create(p)
        assert await eventually(lambda: _node_of(client, f"{tag}-2"), "bound by the new leader") == tag
        assert follower.scheduler.scheduled >= 1
    finally:
        for app in apps:
            await app.stop()


async def _leader(apps: list[SchedulerApp]) -> SchedulerApp | None:
    return next((a for a in apps if a.is_leader), None)
