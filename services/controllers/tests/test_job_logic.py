"""Job controller rules as tables: indexes, podFailurePolicy, back-off, and whole syncs (plan + settle)."""

from __future__ import annotations

import pytest
from skiff.api.batch.v1 import batch_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_controllers.job import indexes
from skiff_controllers.job.policy import backoff_delay, backoff_remaining, match_pod_failure_policy
from skiff_controllers.job.sync import FINALIZER, Backoff, plan, settle, ts, ttl_remaining

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("text", "completions", "parsed", "formatted"),
    [
        ("", 5, set(), ""),
        ("0", 5, {0}, "0"),
        ("1,3-5,7", 10, {1, 3, 4, 5, 7}, "1,3-5,7"),
        ("3-9", 5, {3, 4}, "3-4"),  # beyond completions is dropped
        ("x,2", 5, {2}, "2"),
        ("0-2,3", 5, {0, 1, 2, 3}, "0-3"),
    ],
)
def test_completed_indexes(text, completions, parsed, formatted) -> None:
    assert indexes.parse(text, completions) == parsed
    assert indexes.format_indexes(parsed) == formatted


def test_first_pending() -> None:
    assert indexes.first_pending({0, 2}, {1}, 6, 2) == [3, 4]
    assert indexes.first_pending(set(), set(), 3, 10) == [0, 1, 2]


@pytest.mark.parametrize(("n", "delay"), [(0, 0), (1, 10), (2, 20), (3, 40), (6, 320), (7, 360), (30, 360)])
def test_backoff_delay_doubles_from_10s_capped_at_6min(n, delay) -> None:
    assert backoff_delay(n) == delay


def test_backoff_remaining() -> None:
    assert backoff_remaining(2, NOW - 5, NOW) == 15
    assert backoff_remaining(2, NOW - 25, NOW) == 0
    assert backoff_remaining(2, None, NOW) == 0


# -- fixtures as plain builders -----------------------------------------------------------------------------
def job(completions: int | None = 1, parallelism: int = 1, *, indexed=False, backoff_limit=6, **spec) -> batch_pb2.Job:
    j = batch_pb2.Job(api_version="batch/v1", kind="Job")
    j.metadata.name, j.metadata.namespace, j.metadata.uid = "pi", "default", "job-uid"
    if completions is not None:
        j.spec.completions = completions
    j.spec.parallelism = parallelism
    j.spec.backoff_limit = backoff_limit
    j.spec.completion_mode = "Indexed" if indexed else "NonIndexed"
    j.spec.template.spec.restart_policy = "Never"
    j.spec.template.spec.containers.add(name="main", image="busybox")
    for k, v in spec.items():
        setattr(j.spec, k, v)
    return j


_n = iter(range(1_000_000))


def pod(
    phase: str = "Running", *, index: int | None = None, exit_code: int | None = None, tracked=True, **kw
) -> pod_pb2.Pod:
    n = next(_n)
    p = pod_pb2.Pod()
    p.metadata.name, p.metadata.uid, p.metadata.namespace = f"pi-{n}", f"uid-{n}", "default"
    p.metadata.creation_timestamp.CopyFrom(ts(NOW - 100 + n * 0.001))
    if tracked:
        p.metadata.finalizers.append(FINALIZER)
    if index is not None:
        p.metadata.annotations[indexes.COMPLETION_INDEX] = str(index)
    p.status.phase = phase
    if exit_code is not None:
        cs = p.status.container_statuses.add(name=kw.get("container", "main"))
        cs.state.terminated.exit_code = exit_code
    for cond in kw.get("conditions", ()):
        p.status.conditions.add(type=cond, status="True")
    if kw.get("deleting"):
        p.metadata.deletion_timestamp.CopyFrom(ts(NOW))
    return p


def cond(status, type_):
    return next((c for c in status.conditions if c.type == type_ and c.status == "True"), None)


def run(j, pods, backoff=None, now=NOW):
    """One reconcile as the controller runs it: plan, remove finalizers, settle."""
    p = plan(j, pods, now, backoff or Backoff())
    untracked = {x.metadata.uid for x in p.untrack} | {x.metadata.uid for x in p.delete_untracked}
    still = {x.metadata.uid for x in pods if FINALIZER in x.metadata.finalizers} - untracked
    expected = len([x for x in pods if x.metadata.uid in still and x.status.phase not in ("Succeeded", "Failed")])
    st, events = settle(j, p.status, still, expected + len(p.create), now)
    return p, st, events


# -- syncs ----------------------------------------------------------------------------------------------
def test_new_job_creates_parallelism_pods_and_starts_the_clock() -> None:
    p, st, _ = run(job(completions=5, parallelism=2), [])
    assert p.create == [None, None]
    assert st.HasField("start_time") and st.active == 0


def test_remaining_completions_bound_the_pods() -> None:
    j = job(completions=3, parallelism=3)
    j.status.succeeded = 2
    p, _, _ = run(j, [])
    assert p.create == [None]


def test_indexed_creates_lowest_pending_indexes() -> None:
    j = job(completions=5, parallelism=3, indexed=True)
    j.status.completed_indexes = "0"
    p, _, _ = run(j, [pod(index=1)])
    assert p.create == [2, 3]


def test_success_goes_uncounted_then_counted_then_complete() -> None:
    j = job(completions=1)
    done = pod("Succeeded", exit_code=0)
    p = plan(j, [done], NOW, Backoff())
    assert list(p.status.uncounted_terminated_pods.succeeded) == [done.metadata.uid]
    assert p.status.succeeded == 0 and p.untrack == [done]
    # The controller crashes before removing the finalizer; the next sync must not count twice.
    j.status.CopyFrom(p.status)
    p2 = plan(j, [done], NOW, Backoff())
    assert list(p2.status.uncounted_terminated_pods.succeeded) == [done.metadata.uid]
    # Finalizer removed: settle counts it once and finishes.
    st, events = settle(j, p2.status, set(), 0, NOW)
    assert st.succeeded == 1 and not st.HasField("uncounted_terminated_pods")
    assert cond(st, "Complete").reason == "CompletionsReached" and st.HasField("completion_time")
    assert ("Normal", "Completed", "Job completed") in events


def test_uncounted_pod_still_tracked_is_not_counted() -> None:
    j = job(completions=2)
    j.status.uncounted_terminated_pods.succeeded.append("uid-x")
    st, _ = settle(j, j.status, {"uid-x"}, 0, NOW)
    assert st.succeeded == 0 and list(st.uncounted_terminated_pods.succeeded) == ["uid-x"]


def test_pods_without_the_finalizer_are_not_counted_again() -> None:
    j = job(completions=2)
    j.status.succeeded = 1
    _, st, _ = run(j, [pod("Succeeded", tracked=False)])
    assert st.succeeded == 1


def test_indexed_success_is_recorded_by_index_once() -> None:
    j = job(completions=3, parallelism=3, indexed=True)
    a, dup = pod("Succeeded", index=1), pod("Succeeded", index=1)
    _, st, _ = run(j, [a, dup, pod(index=0), pod(index=2)])
    assert st.completed_indexes == "1" and st.succeeded == 1
    assert not st.uncounted_terminated_pods.succeeded


def test_indexed_duplicate_active_pod_is_deleted() -> None:
    j = job(completions=2, parallelism=2, indexed=True)
    first, second = pod(index=0), pod(index=0)
    p, _, _ = run(j, [first, second, pod(index=1)])
    assert p.delete_untracked == [second] and p.create == []


def test_backoff_limit_exceeded_fails_after_active_pods_are_gone() -> None:
    j = job(completions=3, parallelism=2, backoff_limit=1)
    j.status.failed = 1
    running = pod()
    p, st, events = run(j, [pod("Failed", exit_code=1), running])
    assert p.delete_tracked == [running]
    assert cond(st, "FailureTarget").reason == "BackoffLimitExceeded" and cond(st, "Failed") is None
    # Next sync: the deleted pod is terminating -> counted as failed; nothing active -> Failed.
    j.status.CopyFrom(st)
    running.metadata.deletion_timestamp.CopyFrom(ts(NOW))
    _, st2, events = run(j, [running])
    assert cond(st2, "Failed").reason == "BackoffLimitExceeded" and st2.failed == 3
    assert cond(st2, "Failed").message == "Job has reached the specified backoff limit"
    assert ("Warning", "BackoffLimitExceeded", "Job has reached the specified backoff limit") in events
    assert not st2.HasField("completion_time")


def test_deadline_exceeded() -> None:
    j = job(completions=1, active_deadline_seconds=30)
    j.status.start_time.CopyFrom(ts(NOW - 31))
    running = pod()
    p, st, _ = run(j, [running])
    assert cond(st, "FailureTarget").reason == "DeadlineExceeded" and p.delete_tracked == [running]


def test_deadline_requeues_at_the_deadline() -> None:
    j = job(completions=1, active_deadline_seconds=30)
    j.status.start_time.CopyFrom(ts(NOW - 10))
    p, _, _ = run(j, [pod()])
    assert p.requeue_after == pytest.approx(20)


def test_backoff_delays_recreation() -> None:
    j = job(completions=1)
    failed = pod("Failed", exit_code=1)
    p, st, _ = run(j, [failed], Backoff())
    assert p.create == [] and p.requeue_after == pytest.approx(10)
    assert p.backoff.failures == 1 and st.failed == 1
    # 10 s later the replacement comes.
    j.status.CopyFrom(st)
    p2, _, _ = run(j, [], p.backoff, now=NOW + 10)
    assert p2.create == [None]


def _policy(j, action, operator=None, values=(), conditions=(), container=None):
    r = j.spec.pod_failure_policy.rules.add(action=action)
    if operator:
        r.on_exit_codes.operator = operator
        r.on_exit_codes.values.extend(values)
        if container:
            r.on_exit_codes.container_name = container
    for c in conditions:
        r.on_pod_conditions.add(type=c, status="True")


@pytest.mark.parametrize(
    ("rules", "pod_kw", "action"),
    [
        ([("FailJob", "In", [42], ())], {"exit_code": 42}, "FailJob"),
        ([("FailJob", "In", [42], ())], {"exit_code": 1}, None),
        ([("Count", "NotIn", [1, 2], ())], {"exit_code": 3}, "Count"),
        ([("Count", "NotIn", [1, 2], ())], {"exit_code": 2}, None),
        ([("Ignore", None, [], ("DisruptionTarget",))], {"conditions": ["DisruptionTarget"]}, "Ignore"),
        ([("Ignore", None, [], ("DisruptionTarget",)), ("FailJob", "In", [5], ())], {"exit_code": 5}, "FailJob"),
        ([("FailJob", "NotIn", [0], ())], {"exit_code": 0}, None),  # exit 0 never matches
    ],
)
def test_pod_failure_policy_rules(rules, pod_kw, action) -> None:
    j = job()
    for a, op, vals, conds in rules:
        _policy(j, a, op, vals, conds)
    m = match_pod_failure_policy(j.spec.pod_failure_policy, pod("Failed", **pod_kw))
    assert (m.action if m else None) == action


def test_container_name_restricts_the_rule() -> None:
    j = job()
    _policy(j, "FailJob", "In", [42], container="sidecar")
    assert match_pod_failure_policy(j.spec.pod_failure_policy, pod("Failed", exit_code=42)) is None
    assert match_pod_failure_policy(j.spec.pod_failure_policy, pod("Failed", exit_code=42, container="sidecar"))


def test_fail_job_rule_fails_the_job_with_its_message() -> None:
    j = job(completions=3, parallelism=1)
    _policy(j, "FailJob", "In", [42])
    _, st, events = run(j, [pod("Failed", exit_code=42)])
    c = cond(st, "Failed")
    assert c.reason == "PodFailurePolicy"
    assert c.message.startswith("Container main for pod default/pi-") and c.message.endswith(
        "failed with exit code 42 matching FailJob rule at index 0"
    )
    assert ("Warning", "PodFailurePolicy", c.message) in events


def test_ignored_failure_is_not_counted_and_pod_is_replaced() -> None:
    j = job(completions=1, backoff_limit=0)
    _policy(j, "Ignore", conditions=("DisruptionTarget",))
    evicted = pod("Failed", conditions=["DisruptionTarget"])
    p, st, _ = run(j, [evicted])
    assert st.failed == 0 and cond(st, "FailureTarget") is None
    assert evicted in p.untrack and p.create == [None]


def test_with_pod_failure_policy_a_terminating_pod_waits_for_its_phase() -> None:
    j = job(completions=1, backoff_limit=0)
    _policy(j, "Ignore", conditions=("DisruptionTarget",))
    on_node = pod("Running", deleting=True)
    on_node.spec.node_name = "n1"
    on_node.metadata.deletion_grace_period_seconds = 30
    _, st, _ = run(j, [on_node])
    assert st.failed == 0 and st.terminating == 1
    # The kubelet's final delete (grace 0), or a pod no kubelet ever had: no phase will come, it failed.
    on_node.metadata.deletion_grace_period_seconds = 0
    _, st, _ = run(j, [on_node])
    assert st.failed == 1
    _, st, _ = run(j, [pod("Pending", deleting=True)])
    assert st.failed == 1


def test_suspend_deletes_active_pods_untracked_and_stops_the_clock() -> None:
    j = job(completions=2, parallelism=2, suspend=True)
    j.status.start_time.CopyFrom(ts(NOW - 5))
    pods = [pod(), pod()]
    p, st, _ = run(j, pods)
    assert p.delete_untracked == pods and p.create == []
    assert cond(st, "Suspended").reason == "JobSuspended" and not st.HasField("start_time")
    assert ("Normal", "Suspended", "Job suspended") in p.events
    j.status.CopyFrom(st)
    j.spec.suspend = False
    p2, st2, _ = run(j, [])
    s = next(c for c in st2.conditions if c.type == "Suspended")
    assert (s.status, s.reason) == ("False", "JobResumed") and p2.create == [None, None]
    assert st2.start_time.ToNanoseconds() == ts(NOW).ToNanoseconds()


def test_lowered_parallelism_deletes_newest_untracked() -> None:
    j = job(completions=10, parallelism=1)
    old, new = pod(), pod()
    p, _, _ = run(j, [old, new])
    assert p.delete_untracked == [new]


def test_work_queue_completes_after_first_success_and_others_finish() -> None:
    j = job(completions=None, parallelism=3)
    running = pod()
    p, st, _ = run(j, [pod("Succeeded", exit_code=0), running, pod()])
    assert p.create == [] and st.succeeded == 1
    # SuccessCriteria not yet: active pods are left to finish (no deletion).
    assert cond(st, "Complete") is None and not p.delete_untracked


def test_finished_job_only_releases_finalizers() -> None:
    j = job()
    j.status.conditions.add(type="Complete", status="True")
    left = pod("Succeeded")
    p, _, _ = run(j, [left])
    assert p.untrack == [left] and p.create == []


def test_ttl() -> None:
    j = job(ttl_seconds_after_finished=100)
    assert ttl_remaining(j, NOW) is None
    c = j.status.conditions.add(type="Complete", status="True")
    j.status.completion_time.CopyFrom(ts(NOW - 40))
    c.last_transition_time.CopyFrom(ts(NOW - 40))
    assert ttl_remaining(j, NOW) == pytest.approx(60)
    assert ttl_remaining(j, NOW + 61) < 0


def test_on_failure_restarts_count_towards_backoff() -> None:
    j = job(completions=1, backoff_limit=2)
    j.spec.template.spec.restart_policy = "OnFailure"
    r = pod()
    r.status.container_statuses.add(name="main", restart_count=3)
    _, st, _ = run(j, [r])
    assert cond(st, "FailureTarget").reason == "BackoffLimitExceeded"
