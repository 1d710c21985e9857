"""The controller kit's pure pieces: expectations, pod helpers, deletion ranking, the work loop and
the builder's handlers (informers fed by hand, no server)."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client.controller import (
    CONTROLLER_UID_INDEX,
    EXPECTATIONS_TIMEOUT,
    BatchError,
    ControllerBuilder,
    Expectations,
    Result,
    TerminalError,
    WorkLoop,
    controller_ref,
    is_available,
    new_controller_ref,
    pod_from_template,
    rank_pods_for_deletion,
    slow_start_batch,
)
from skiff_client.informer import InformerFactory


def test_expectations_block_until_observed_or_expired() -> None:
    now = [0.0]
    exp = Expectations(clock=lambda: now[0])
    assert exp.satisfied("ns/rs")
    exp.expect_creations("ns/rs", 2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    assert not exp.satisfied("ns/rs") and exp.pending("ns/rs") == (1, 0)
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect_deletions("ns/rs", ["u1", "u2"])
    exp.deletion_observed("ns/rs", "u1")
    exp.deletion_observed("ns/rs", "u1")  # the same pod twice counts once
    exp.deletion_observed("ns/rs", "other")  # a pod we did not delete does not count
    assert not exp.satisfied("ns/rs")
    now[0] = EXPECTATIONS_TIMEOUT + 1
    assert exp.satisfied("ns/rs")  # a lost event must not wedge the controller
    exp.delete("ns/rs")
    assert exp.pending("ns/rs") == (0, 0)


def test_controller_ref_and_new_controller_ref() -> None:
    rs = apps_pb2.ReplicaSet(metadata=meta_pb2.ObjectMeta(name="web", namespace="ns", uid="rs-uid"))
    ref = new_controller_ref(rs, "apps/v1", "ReplicaSet")
    assert (ref.kind, ref.name, ref.uid, ref.controller, ref.block_owner_deletion) == (
        "ReplicaSet",
        "web",
        "rs-uid",
        True,
        True,
    )
    pod = pod_pb2.Pod()
    pod.metadata.owner_references.add(kind="Node", name="n", uid="x")  # not a controller
    assert controller_ref(pod) is None
    pod.metadata.owner_references.append(ref)
    assert controller_ref(pod) == ref


def test_pod_from_template_copies_labels_annotations_finalizers_and_sets_owner() -> None:
    tmpl = pod_pb2.PodTemplateSpec()
    tmpl.metadata.labels["app"] = "web"
    tmpl.metadata.annotations["a"] = "b"
    tmpl.metadata.finalizers.append("f")
    tmpl.metadata.name = "ignored"
    tmpl.spec.containers.add(name="c", image="busybox")
    owner = apps_pb2.ReplicaSet(metadata=meta_pb2.ObjectMeta(name="web", namespace="ns", uid="u"))
    pod = pod_from_template(tmpl, new_controller_ref(owner, "apps/v1", "ReplicaSet"), namespace="ns")
    assert pod.metadata.generate_name == "web-" and not pod.metadata.name and pod.metadata.namespace == "ns"
    assert dict(pod.metadata.labels) == {"app": "web"} and dict(pod.metadata.annotations) == {"a": "b"}
    assert list(pod.metadata.finalizers) == ["f"] and pod.spec.containers[0].image == "busybox"
    assert controller_ref(pod) is not None and controller_ref(pod).uid == "u"  # type: ignore[union-attr]
    named = pod_from_template(tmpl, new_controller_ref(owner, "apps/v1", "ReplicaSet"), namespace="ns", name="p-0")
    assert named.metadata.name == "p-0" and not named.metadata.generate_name


def _pod(node: str = "", phase: str = "", ready_at: float | None = None, created: int = 0, restarts: int = 0):  # type: ignore[no-untyped-def]
    pod = pod_pb2.Pod(spec=pod_pb2.PodSpec(node_name=node), status=pod_pb2.PodStatus(phase=phase))
    pod.metadata.creation_timestamp.seconds = created
    if ready_at is not None:
        cond = pod.status.conditions.add(type="Ready", status="True")
        cond.last_transition_time.seconds = int(ready_at)
    if restarts:
        pod.status.container_statuses.add(name="c", restart_count=restarts)
    return pod


def test_rank_prefers_unscheduled_then_pending_then_unready_then_recently_ready() -> None:
    unscheduled = _pod()
    pending = _pod("n", "Pending")
    running = _pod("n", "Running")
    ready_long = _pod("n", "Running", ready_at=100)
    ready_recent = _pod("n", "Running", ready_at=200)
    order = rank_pods_for_deletion([ready_long, ready_recent, running, pending, unscheduled])
    assert order == [unscheduled, pending, running, ready_recent, ready_long]


def test_rank_prefers_most_restarted_then_newest() -> None:
    old, new, crashing = _pod(created=100), _pod(created=200), _pod(created=50, restarts=3)
    assert rank_pods_for_deletion([old, new, crashing]) == [crashing, new, old]


@pytest.mark.parametrize(
    ("ready_at", "min_ready", "now", "available"),
    [(None, 0, 10, False), (5, 0, 10, True), (5, 10, 10, False), (0, 10, 10, True)],
)
def test_is_available_honours_min_ready_seconds(
    ready_at: float | None, min_ready: int, now: float, available: bool
) -> None:
    assert is_available(_pod("n", "Running", ready_at=ready_at), min_ready, now) is available


async def test_slow_start_batch_stops_after_a_failing_batch() -> None:
    calls = 0

    async def ok() -> None:
        nonlocal calls
        calls += 1

    assert await slow_start_batch(10, 1, ok) == 10 and calls == 10

    calls = 0

    async def fail_from_third() -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:
            raise RuntimeError("quota")

    with pytest.raises(BatchError) as info:
        await slow_start_batch(10, 1, fail_from_third)
    # batches 1, 2: the second batch has one failure; nothing after it is tried
    assert info.value.succeeded == 2 and calls == 3


def _metric(name: str, loop: str) -> float:
    return REGISTRY.get_sample_value(name, {"name": loop}) or 0.0


async def test_workloop_result_requeue_terminal_and_error_paths() -> None:
    seen: list[str] = []
    fail_once = {"boom"}

    async def reconcile(key: str) -> Result | None:
        seen.append(key)
        if key == "bad":
            raise TerminalError("spec.selector: invalid")
        if key in fail_once:
            fail_once.discard(key)
            raise RuntimeError("apiserver hiccup")
        if key == "again" and seen.count("again") == 1:
            return Result(requeue_after=0.01)
        return None

    loop = WorkLoop("kit-test-loop", reconcile, workers=2)
    task = asyncio.create_task(loop.run())
    for key in ("a", "bad", "boom", "again"):
        loop.enqueue(key)
    for _ in range(200):
        if seen.count("boom") == 2 and seen.count("again") == 2:
            break
        await asyncio.sleep(0.01)
    loop.shutdown()
    await task
    assert seen.count("a") == 1 and seen.count("bad") == 1  # terminal: dropped, not retried
    assert seen.count("boom") == 2 and seen.count("again") == 2
    assert _metric("workqueue_adds_total", "kit-test-loop") >= 6
    assert _metric("workqueue_retries_total", "kit-test-loop") == 1
    assert REGISTRY.get_sample_value("workqueue_queue_duration_seconds_count", {"name": "kit-test-loop"}) >= 6  # type: ignore[operator]
    assert REGISTRY.get_sample_value("workqueue_work_duration_seconds_count", {"name": "kit-test-loop"}) >= 6  # type: ignore[operator]
    assert _metric("workqueue_depth", "kit-test-loop") == 0


def _rs(name: str, uid: str) -> apps_pb2.ReplicaSet:
    return apps_pb2.ReplicaSet(metadata=meta_pb2.ObjectMeta(name=name, namespace="ns", uid=uid))


def _owned(name: str, owner: apps_pb2.ReplicaSet | None) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name=name, namespace="ns", uid=f"uid-{name}"))
    if owner is not None:
        pod.metadata.owner_references.append(new_controller_ref(owner, "apps/v1", "ReplicaSet"))
    return pod


async def _noop(_key: str) -> None:
    return None


def test_builder_owns_resolves_the_owner_by_uid_and_indexes_controller_uid() -> None:
    factory = InformerFactory(None)  # type: ignore[arg-type]  # handlers only: never started
    loop = ControllerBuilder("kit-test-builder", factory).for_(apps_pb2.ReplicaSet).owns(pod_pb2.Pod).complete(_noop)
    owners, pods = factory.informer(apps_pb2.ReplicaSet), factory.informer(pod_pb2.Pod)
    web = _rs("web", "uid-web")
    owners.store.put(web)
    owners._fire_add(web)
    assert loop.queue._queue.popleft() == "ns/web"
    loop.queue._dirty.clear()

    mine = _owned("p1", web)
    stale = _owned("p2", _rs("web", "uid-old-web"))  # same name, a deleted owner's UID
    orphan = _owned("p3", None)
    for p in (mine, stale, orphan):
        pods.store.put(p)
        pods._fire_add(p)
    assert list(loop.queue._queue) == ["ns/web"]  # only the pod whose ref carries web's UID
    assert [p.metadata.name for p in pods.store.by_index(CONTROLLER_UID_INDEX, "uid-web")] == ["p1"]
    # A second builder owning pods shares the index instead of failing.
    ControllerBuilder("kit-test-builder-2", factory).for_(apps_pb2.ReplicaSet).owns(pod_pb2.Pod).complete(_noop)


def test_builder_owns_wakes_old_and_new_owner_when_the_ref_moves() -> None:
    factory = InformerFactory(None)  # type: ignore[arg-type]
    loop = ControllerBuilder("kit-test-move", factory).for_(apps_pb2.ReplicaSet).owns(pod_pb2.Pod).complete(_noop)
    owners, pods = factory.informer(apps_pb2.ReplicaSet), factory.informer(pod_pb2.Pod)
    a, b = _rs("a", "uid-a"), _rs("b", "uid-b")
    owners.store.put(a)
    owners.store.put(b)
    old, new = _owned("p", a), _owned("p", b)
    pods._fire_update(old, new)
    assert sorted(loop.queue._queue) == ["ns/a", "ns/b"]


def test_builder_for_predicate_and_watches_mapper() -> None:
    factory = InformerFactory(None)  # type: ignore[arg-type]
    loop = (
        ControllerBuilder("kit-test-watch", factory)
        .for_(apps_pb2.ReplicaSet, predicate=lambda rs: rs.metadata.name != "skip")
        .watches(pod_pb2.Pod, lambda pod: [f"mapped/{pod.metadata.name}"])
        .complete(_noop)
    )
    owners, pods = factory.informer(apps_pb2.ReplicaSet), factory.informer(pod_pb2.Pod)
    owners._fire_add(_rs("skip", "u1"))
    owners._fire_add(_rs("keep", "u2"))
    pods._fire_add(_owned("x", None))
    owners._fire_delete(_rs("skip", "u1"))  # deletes always enqueue, so the reconciler can forget
    assert list(loop.queue._queue) == ["ns/keep", "mapped/x", "ns/skip"]


def test_builder_rejects_bad_wiring() -> None:
    factory = InformerFactory(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="for_"):
        ControllerBuilder("x", factory).owns(pod_pb2.Pod).complete(_noop)
    with pytest.raises(ValueError, match="workers"):
        ControllerBuilder("x", factory).workers(0)
