"""Node lifecycle rules as tables: condition taints, eviction times, health tracking."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import node_pb2, scheduling_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_controllers.nodelifecycle import taints as tt
from skiff_controllers.nodelifecycle.eviction import eviction_time
from skiff_controllers.nodelifecycle.health import HealthTracker, heartbeat_signature, mark_unknown

T = scheduling_pb2.Toleration


def node(ready: str | None = "True", *, taints=(), unschedulable: bool = False, **conds: str) -> node_pb2.Node:
    n = node_pb2.Node(metadata=meta_pb2.ObjectMeta(name="n1"))
    if ready is not None:
        n.status.conditions.add(type="Ready", status=ready)
    for k, v in conds.items():
        n.status.conditions.add(type=k, status=v)
    for key, effect in taints:
        n.spec.taints.add(key=key, effect=effect)
    n.spec.unschedulable = unschedulable
    return n


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (node("True"), set()),
        (node(None), set()),
        (node("False"), {(tt.NOT_READY, "NoSchedule"), (tt.NOT_READY, "NoExecute")}),
        (node("Unknown"), {(tt.UNREACHABLE, "NoSchedule"), (tt.UNREACHABLE, "NoExecute")}),
        (node("True", MemoryPressure="True", DiskPressure="False"), {(tt.MEMORY_PRESSURE, "NoSchedule")}),
        (node("True", PIDPressure="True"), {(tt.PID_PRESSURE, "NoSchedule")}),
        (node("True", NetworkUnavailable="True"), {(tt.NETWORK_UNAVAILABLE, "NoSchedule")}),
        (node("True", unschedulable=True), {(tt.UNSCHEDULABLE, "NoSchedule")}),
    ],
)
def test_condition_taints(n: node_pb2.Node, expected: set) -> None:
    assert tt.wanted_keys(n) == expected


def test_reconcile_taints_keeps_foreign_and_time_added() -> None:
    n = node("Unknown", taints=[("dedicated", "NoSchedule"), (tt.NOT_READY, "NoExecute")])
    new = tt.reconcile_taints(n, 1000)
    assert new is not None
    assert {(t.key, t.effect) for t in new} == {
        ("dedicated", "NoSchedule"),
        (tt.UNREACHABLE, "NoSchedule"),
        (tt.UNREACHABLE, "NoExecute"),
    }
    assert next(t for t in new if t.effect == "NoExecute").time_added.seconds == 1000
    n.ClearField("spec")
    n.spec.taints.extend(new)
    assert tt.reconcile_taints(n, 2000) is None  # already right: no write
    n.status.conditions[0].status = "True"  # the kubelet is back: the managed taints go
    back = tt.reconcile_taints(n, 3000)
    assert back is not None and [(t.key, t.effect) for t in back] == [("dedicated", "NoSchedule")]


def test_missing_ready_condition_keeps_no_execute_taints() -> None:
    n = node(None, taints=[(tt.UNREACHABLE, "NoExecute"), (tt.NOT_READY, "NoSchedule")])
    new = tt.reconcile_taints(n, 1)
    assert new is not None and [(t.key, t.effect) for t in new] == [(tt.UNREACHABLE, "NoExecute")]


def taint(key: str, added: int | None = 100) -> node_pb2.Taint:
    t = node_pb2.Taint(key=key, effect="NoExecute")
    if added is not None:
        t.time_added.seconds = added
    return t


@pytest.mark.parametrize(
    ("tolerations", "taints", "expected"),
    [
        ([], [taint(tt.UNREACHABLE)], 500.0),  # not tolerated: now
        (
            [T(key=tt.UNREACHABLE, operator="Exists", effect="NoExecute", toleration_seconds=300)],
            [taint(tt.UNREACHABLE)],
            400.0,
        ),
        ([T(key=tt.UNREACHABLE, operator="Exists", effect="NoExecute")], [taint(tt.UNREACHABLE)], None),  # forever
        ([T(operator="Exists")], [taint(tt.UNREACHABLE), taint("x")], None),
        (
            [
                T(key=tt.UNREACHABLE, operator="Exists", toleration_seconds=300),
                T(key="x", operator="Exists", toleration_seconds=30),
            ],
            [taint(tt.UNREACHABLE), taint("x", 200)],
            230.0,
        ),
        ([T(key=tt.UNREACHABLE, operator="Exists", toleration_seconds=-5)], [taint(tt.UNREACHABLE)], 100.0),
        # tolerates one taint but not the other: now
        ([T(key=tt.UNREACHABLE, operator="Exists")], [taint(tt.UNREACHABLE), taint("x")], 500.0),
        # a NoSchedule toleration does not tolerate NoExecute
        ([T(key=tt.UNREACHABLE, operator="Exists", effect="NoSchedule")], [taint(tt.UNREACHABLE)], 500.0),
        # no timeAdded: the clock starts now
        ([T(key=tt.UNREACHABLE, operator="Exists", toleration_seconds=10)], [taint(tt.UNREACHABLE, None)], 510.0),
        ([], [], None),
    ],
)
def test_eviction_time(tolerations: list, taints: list, expected: float | None) -> None:
    assert eviction_time(tolerations, taints, now=500.0) == expected


def test_health_tracker_counts_only_changes() -> None:
    h = HealthTracker()
    assert h.observe("n", now=10, status=b"a") == 10
    assert h.observe("n", now=20, status=b"a") == 10  # same heartbeat: silence
    assert h.observe("n", now=30, lease=b"l1") == 30  # the lease moved
    assert h.observe("n", now=40, lease=b"l1", status=b"a") == 30
    assert h.observe("n", now=50, status=b"b") == 50


def test_mark_unknown_does_not_look_like_a_heartbeat() -> None:
    n = node("True")
    n.status.conditions[0].last_heartbeat_time.seconds = 77
    n.metadata.creation_timestamp.seconds = 5
    before = heartbeat_signature(n)
    now = meta_pb2.Condition().last_transition_time
    now.seconds = 1000
    assert mark_unknown(n, now)
    ready = next(c for c in n.status.conditions if c.type == "Ready")
    assert (ready.status, ready.reason, ready.message) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    pressure = next(c for c in n.status.conditions if c.type == "MemoryPressure")
    assert (pressure.status, pressure.reason) == ("Unknown", "NodeStatusNeverUpdated")
    assert heartbeat_signature(n) == before
    assert not mark_unknown(n, now)  # idempotent
