"""Deployment status and conditions, pure: counts, Available, and the Progressing reasons."""

from __future__ import annotations

from deployment_helpers import deployment, rs
from skiff.api.apps.v1 import apps_pb2
from skiff_controllers.deployment import status as st

NOW = 1_800_000_000.0


def test_counts_and_available_condition() -> None:
    d = deployment(10)
    d.metadata.generation = 4
    new, old = rs("new", 3, available=1), rs("old", 8)
    s = st.calculate_status(d, [old, new], new, NOW)
    assert (s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas, s.unavailable_replicas) == (
        11,
        3,
        9,
        9,
        2,
    )
    assert s.observed_generation == 4
    avail = st.get_condition(s, st.AVAILABLE)
    assert avail is not None and (avail.status, avail.reason) == ("True", st.MIN_AVAILABLE)
    s = st.calculate_status(d, [rs("old", 10, available=7)], None, NOW)
    avail = st.get_condition(s, st.AVAILABLE)
    assert avail is not None and (avail.status, avail.reason) == ("False", st.MIN_UNAVAILABLE)


def _with_progressing(reason: str, status: str = "True", updated_at: float = NOW) -> apps_pb2.Deployment:
    d = deployment(3)
    d.spec.progress_deadline_seconds = 600
    st.set_condition(d.status, st.new_condition(st.PROGRESSING, status, reason, "m", updated_at))
    return d


def test_progressing_reasons_through_a_rollout() -> None:
    d = _with_progressing(st.NEW_RS_CREATED)
    new = rs("web-abc", 1, available=0)
    s = st.rollout_status(d, [rs("old", 3), new], new, NOW + 5)
    cond = st.get_condition(s, st.PROGRESSING)
    assert cond is not None and cond.reason == st.RS_UPDATED and cond.message == 'ReplicaSet "web-abc" is progressing.'
    assert cond.last_transition_time == d.status.conditions[0].last_transition_time  # same status: kept
    done = rs("web-abc", 3)
    s = st.rollout_status(d, [rs("old", 0), done], done, NOW + 9)
    cond = st.get_condition(s, st.PROGRESSING)
    assert cond is not None and (cond.reason, cond.message) == (
        st.NEW_RS_AVAILABLE,
        'ReplicaSet "web-abc" has successfully progressed.',
    )


def test_no_progress_past_the_deadline_is_progress_deadline_exceeded() -> None:
    d = _with_progressing(st.RS_UPDATED, updated_at=NOW - 601)
    d.status.updated_replicas, d.status.replicas, d.status.ready_replicas, d.status.available_replicas = 1, 4, 3, 3
    new = rs("web-abc", 1, available=0)
    s = st.rollout_status(d, [rs("old", 3), new], new, NOW)
    cond = st.get_condition(s, st.PROGRESSING)
    assert cond is not None and (cond.status, cond.reason) == ("False", st.TIMED_OUT)
    assert st.requeue_for_deadline(_with_progressing(st.RS_UPDATED, updated_at=NOW - 100), s, NOW) == 501.0


def test_an_unchanged_complete_deployment_computes_the_same_status() -> None:
    d = deployment(3)
    d.spec.progress_deadline_seconds = 600
    new = rs("web-abc", 3)
    first = st.rollout_status(d, [new], new, NOW)
    d.status.CopyFrom(first)
    assert st.rollout_status(d, [new], new, NOW + 3600) == first  # no write on resync


def test_paused_and_resumed_conditions() -> None:
    d = _with_progressing(st.RS_UPDATED)
    d.spec.paused = True
    cond = st.paused_condition(d, NOW)
    assert cond is not None and (cond.status, cond.reason, cond.message) == (
        "Unknown",
        st.PAUSED,
        "Deployment is paused",
    )
    st.set_condition(d.status, cond)
    assert st.paused_condition(d, NOW) is None
    d.spec.paused = False
    resumed = st.paused_condition(d, NOW)
    assert resumed is not None and resumed.reason == st.RESUMED
    assert st.paused_condition(_with_progressing(st.TIMED_OUT, "False"), NOW) is None
