"""The incremental cache and snapshot, and the scheduling queue's three parts."""

from __future__ import annotations

import asyncio

from helpers import make_node, make_pod
from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.failure import fit_message
from skiff_scheduler.framework import ClusterEvent, ClusterEventWithHint, PodInfo, Snapshot, Status
from skiff_scheduler.plugins.priority_sort import PrioritySort
from skiff_scheduler.queue import ACTIVE, BACKOFF, UNSCHEDULABLE, QueuedPodInfo, SchedulingQueue


def test_cache_keeps_sums_incrementally_and_snapshot_copies_only_changes() -> None:
    cache, snap = SchedulerCache(), Snapshot()
    cache.add_node(make_node("n1", extra={"example.com/gpu": "4"}))
    cache.add_node(make_node("n2"))
    c = {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}
    c["resources"] = {"requests": {"cpu": "1", "example.com/gpu": "2"}}
    a = make_pod("a", node_name="n1", spec={"containers": [c]})
    cache.add_pod(a)
    cache.update_snapshot(snap)
    n1, n2 = snap.by_name["n1"], snap.by_name["n2"]
    assert n1.requested == {"cpu": 1000, "example.com/gpu": 2} and ("0.0.0.0", "TCP", 8080) in n1.used_ports
    cache.add_pod(make_pod("b", cpu="500m", node_name="n1"))
    cache.update_snapshot(snap)
    assert snap.by_name["n2"] is n2  # unchanged: not copied again
    assert snap.by_name["n1"] is not n1 and snap.by_name["n1"].requested["cpu"] == 1500
    assert n1.requested["cpu"] == 1000  # the old snapshot entry was never mutated
    assert snap.nodes[0] is snap.by_name["n1"]
    done = make_pod("a", cpu="1", node_name="n1")
    done.metadata.uid = a.metadata.uid
    done.status.phase = "Succeeded"
    cache.update_pod(a, done)  # terminal: resources are free
    cache.update_snapshot(snap)
    assert snap.by_name["n1"].requested["cpu"] == 500 and not snap.by_name["n1"].used_ports


def test_assume_then_confirm_or_forget() -> None:
    cache, snap = SchedulerCache(), Snapshot()
    cache.add_node(make_node("n1"))
    pod = make_pod("p", cpu="1")
    pi = PodInfo.of(pod)
    cache.assume(pi, "n1")
    cache.update_snapshot(snap)
    assert snap.by_name["n1"].requested["cpu"] == 1000 and cache.is_assumed(pi.uid)
    cache.forget(pi)
    cache.update_snapshot(snap)
    assert snap.by_name["n1"].requested.get("cpu", 0) == 0
    cache.assume(pi, "n1")
    cache.finish_binding(pi)
    bound = make_pod("p", cpu="1", node_name="n1")
    bound.metadata.uid = pod.metadata.uid
    cache.add_pod(bound)  # the informer confirms: counted once
    cache.update_snapshot(snap)
    assert not cache.is_assumed(pi.uid) and snap.by_name["n1"].requested["cpu"] == 1000


def test_assumed_pod_expires_after_ttl() -> None:
    cache, snap = SchedulerCache(ttl=0.0), Snapshot()
    cache.add_node(make_node("n1"))
    pi = PodInfo.of(make_pod("p", cpu="1"))
    cache.assume(pi, "n1")
    cache.cleanup_expired()
    assert cache.is_assumed(pi.uid)  # binding still in flight: never expires
    cache.finish_binding(pi)
    cache.cleanup_expired()
    cache.update_snapshot(snap)
    assert not cache.is_assumed(pi.uid) and snap.by_name["n1"].requested.get("cpu", 0) == 0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


FIT_EVENTS = {"NodeResourcesFit": [ClusterEventWithHint(ClusterEvent("Pod", "Delete"))]}


def queue(clock: Clock, events: dict | None = None) -> SchedulingQueue:
    return SchedulingQueue(PrioritySort().less, events if events is not None else FIT_EVENTS, clock=clock)


async def test_active_queue_orders_by_priority_then_age() -> None:
    clock = Clock()
    q = queue(clock)
    for name, prio in (("a", 1), ("b", 10), ("c", 1), ("d", 10)):
        clock.now += 1
        q.add(make_pod(name, priority=prio))
    order = [(await q.pop()).key for _ in range(4)]  # type: ignore[union-attr]
    assert order == ["default/b", "default/d", "default/a", "default/c"]


async def test_backoff_doubles_from_one_to_ten_seconds() -> None:
    q = queue(Clock())
    qpi = QueuedPodInfo(PodInfo.of(make_pod()), 0.0)
    got = []
    for attempts in range(1, 7):
        qpi.attempts = attempts
        got.append(q.backoff_duration(qpi))
    assert got == [1, 2, 4, 8, 10, 10]


async def test_unschedulable_pods_move_only_on_their_plugins_events() -> None:
    clock = Clock()
    q = queue(clock)
    q.add(make_pod("p"))
    qpi = await q.pop()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi, q.scheduling_cycle)
    assert q.where("default/p") == UNSCHEDULABLE
    assert q.on_event(ClusterEvent("Node", "UpdateNodeLabel")) == 0  # not NodeResourcesFit's
    assert q.where("default/p") == UNSCHEDULABLE
    assert q.on_event(ClusterEvent("Pod", "Delete")) == 1
    assert q.where("default/p") == BACKOFF  # still inside its 1 s backoff
    clock.now += 1.5
    q.flush_backoff_completed()
    assert q.where("default/p") == ACTIVE


async def test_queueing_hint_can_skip() -> None:
    clock = Clock()
    q = queue(clock, {"X": [ClusterEventWithHint(ClusterEvent("Node", "Add"), lambda pod, old, new: new == "good")]})
    q.add(make_pod("p"))
    qpi = await q.pop()
    assert qpi is not None
    qpi.unschedulable_plugins = {"X"}
    q.add_unschedulable(qpi, q.scheduling_cycle)
    assert q.on_event(ClusterEvent("Node", "Add"), None, "bad") == 0
    assert q.on_event(ClusterEvent("Node", "Add"), None, "good") == 1


async def test_event_during_the_cycle_sends_the_pod_to_backoff_not_the_pool() -> None:
    clock = Clock()
    q = queue(clock)
    q.add(make_pod("p"))
    qpi = await q.pop()
    assert qpi is not None
    cycle = q.scheduling_cycle
    q.on_event(ClusterEvent("Node", "Add"))  # arrives while p is being scheduled
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi, cycle)
    assert q.where("default/p") == BACKOFF


async def test_parked_pods_are_flushed_after_five_minutes() -> None:
    clock = Clock()
    q = queue(clock)
    q.add(make_pod("p"))
    qpi = await q.pop()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi, q.scheduling_cycle)
    clock.now += 299
    assert q.flush_unschedulable_leftover() == 0
    clock.now += 2
    assert q.flush_unschedulable_leftover() == 1 and q.where("default/p") == ACTIVE


async def test_updating_a_parked_pod_requeues_it_and_pop_waits() -> None:
    clock = Clock()
    q = queue(clock)
    pod = make_pod("p")
    pod.metadata.resource_version = "1"
    q.add(pod)
    qpi = await q.pop()
    assert qpi is not None
    qpi.unschedulable_plugins = {"NodeResourcesFit"}
    q.add_unschedulable(qpi, q.scheduling_cycle)
    clock.now += 5
    waiter = asyncio.create_task(q.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    changed = make_pod("p", tolerations=[])
    changed.metadata.resource_version = "2"
    changed.metadata.labels["new"] = "label"
    q.update(changed)
    assert (await waiter).key == "default/p"  # type: ignore[union-attr]


def test_fit_message_is_kube_schedulers() -> None:
    statuses = {
        "n1": Status.unschedulable("Insufficient cpu"),
        "n2": Status.unschedulable("node(s) had untolerated taint {dedicated: gpu}", unresolvable=True),
        "n3": Status.unschedulable("node(s) had untolerated taint {dedicated: gpu}", unresolvable=True),
    }
    assert fit_message(3, statuses) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint {dedicated: gpu}."
    )
