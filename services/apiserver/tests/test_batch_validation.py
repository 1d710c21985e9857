"""Job and CronJob defaulting and validation over the wire, with Kubernetes' field paths and reasons."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, uniq
from skiff.api.batch.v1 import batch_pb2


def job(**spec) -> batch_pb2.Job:
    j = batch_pb2.Job()
    j.metadata.name = uniq("job")
    j.spec.template.spec.containers.add(name="main", image="busybox")
    for k, v in spec.items():
        setattr(j.spec, k, v)
    return j


async def test_job_defaults_and_generated_selector(api) -> None:
    out = await create(api.stub, job())
    uid = out.metadata.uid
    assert dict(out.spec.selector.match_labels) == {"batch.kubernetes.io/controller-uid": uid}
    labels = dict(out.spec.template.metadata.labels)
    assert labels["batch.kubernetes.io/controller-uid"] == uid and labels["controller-uid"] == uid
    assert labels["batch.kubernetes.io/job-name"] == out.metadata.name == labels["job-name"]
    assert (out.spec.completions, out.spec.parallelism, out.spec.backoff_limit) == (1, 1, 6)
    assert out.spec.completion_mode == "NonIndexed" and out.spec.suspend is False
    assert out.spec.template.spec.restart_policy == "Never"


async def test_job_parallelism_alone_leaves_completions_unset(api) -> None:
    out = await create(api.stub, job(parallelism=3))
    assert not out.spec.HasField("completions") and out.spec.parallelism == 3


async def test_job_selector_without_manual_selector_is_refused(api) -> None:
    j = job()
    j.spec.selector.match_labels["app"] = "x"
    j.spec.template.metadata.labels["app"] = "x"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, j))
    assert ("spec.selector", "Invalid value") in {(e.path, e.reason) for e in err.errors}
    assert "`selector` not auto-generated" in err.message
    j.spec.manual_selector = True
    out = await create(api.stub, j)
    assert dict(out.spec.selector.match_labels) == {"app": "x"}
    assert "controller-uid" not in out.spec.template.metadata.labels


async def test_indexed_job_needs_completions(api) -> None:
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, job(completion_mode="Indexed", parallelism=2))
    )
    assert [(e.path, e.reason) for e in err.errors] == [("spec.completions", "Required value")]


def _rule(j: batch_pb2.Job, action: str, operator: str | None = None, values=(), conditions=()) -> None:
    r = j.spec.pod_failure_policy.rules.add(action=action)
    if operator is not None:
        r.on_exit_codes.operator = operator
        r.on_exit_codes.values.extend(values)
    for t in conditions:
        r.on_pod_conditions.add(type=t)


async def test_pod_failure_policy_defaults_condition_status(api) -> None:
    j = job()
    _rule(j, "Ignore", conditions=["DisruptionTarget"])
    out = await create(api.stub, j)
    assert out.spec.pod_failure_policy.rules[0].on_pod_conditions[0].status == "True"


@pytest.mark.parametrize(
    ("build", "path", "reason"),
    [
        (lambda j: _rule(j, "Explode", "In", [1]), "spec.podFailurePolicy.rules[0].action", "Unsupported value"),
        (
            lambda j: _rule(j, "FailJob", "Among", [1]),
            "spec.podFailurePolicy.rules[0].onExitCodes.operator",
            "Unsupported value",
        ),
        (
            lambda j: _rule(j, "FailJob", "In", [0]),
            "spec.podFailurePolicy.rules[0].onExitCodes.values[0]",
            "Invalid value",
        ),
        (
            lambda j: _rule(j, "FailJob", "In", [3, 2]),
            "spec.podFailurePolicy.rules[0].onExitCodes.values[1]",
            "Invalid value",
        ),
        (lambda j: _rule(j, "FailJob", "In", []), "spec.podFailurePolicy.rules[0].onExitCodes.values", "Invalid value"),
        (lambda j: _rule(j, "FailJob"), "spec.podFailurePolicy.rules[0]", "Invalid value"),
        (
            lambda j: _rule(j, "Count", "In", [1], ["DisruptionTarget"]),
            "spec.podFailurePolicy.rules[0]",
            "Invalid value",
        ),
        (
            lambda j: (_rule(j, "FailJob", "In", [1]), setattr(j.spec.template.spec, "restart_policy", "OnFailure")),
            "spec.template.spec.restartPolicy",
            "Invalid value",
        ),
        (
            lambda j: (
                _rule(j, "FailJob", "In", [1]),
                setattr(j.spec.pod_failure_policy.rules[0].on_exit_codes, "container_name", "nope"),
            ),
            "spec.podFailurePolicy.rules[0].onExitCodes.containerName",
            "Invalid value",
        ),
        (lambda j: setattr(j.spec, "active_deadline_seconds", 0), "spec.activeDeadlineSeconds", "Invalid value"),
        (lambda j: setattr(j.spec, "ttl_seconds_after_finished", -1), "spec.ttlSecondsAfterFinished", "Invalid value"),
        (lambda j: setattr(j.spec, "completion_mode", "Sorted"), "spec.completionMode", "Unsupported value"),
    ],
)
async def test_job_field_errors(api, build, path, reason) -> None:
    j = job()
    build(j)
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, j))
    assert (path, reason) in {(e.path, e.reason) for e in err.errors}, err.message


def cronjob(schedule: str = "* * * * *", **spec) -> batch_pb2.CronJob:
    c = batch_pb2.CronJob()
    c.metadata.name = uniq("cj")
    c.spec.schedule = schedule
    c.spec.job_template.spec.template.spec.containers.add(name="main", image="busybox")
    for k, v in spec.items():
        setattr(c.spec, k, v)
    return c


async def test_cronjob_defaults(api) -> None:
    out = await create(api.stub, cronjob("@hourly", time_zone="Europe/Paris"))
    s = out.spec
    assert (s.concurrency_policy, s.suspend, s.successful_jobs_history_limit, s.failed_jobs_history_limit) == (
        "Allow",
        False,
        3,
        1,
    )


@pytest.mark.parametrize(
    ("schedule", "extra", "path", "needle"),
    [
        ("61 * * * *", {}, "spec.schedule", "not a valid cron expression"),
        ("* * * *", {}, "spec.schedule", "expected exactly 5 fields"),
        ("* * * * * *", {}, "spec.schedule", "expected exactly 5 fields"),
        ("@fortnightly", {}, "spec.schedule", "unsupported macro"),
        ("CRON_TZ=UTC 0 * * * *", {}, "spec.schedule", "cannot use TZ or CRON_TZ in schedule"),
        ("TZ=Europe/Paris 0 * * * *", {}, "spec.schedule", "cannot use TZ or CRON_TZ in schedule"),
        ("* * * * *", {"time_zone": "Mars/Olympus"}, "spec.timeZone", "unknown time zone Mars/Olympus"),
        ("* * * * *", {"concurrency_policy": "Sometimes"}, "spec.concurrencyPolicy", "supported values"),
        ("* * * * *", {"starting_deadline_seconds": -5}, "spec.startingDeadlineSeconds", "greater than or equal to 0"),
    ],
)
async def test_cronjob_field_errors(api, schedule, extra, path, needle) -> None:
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, cronjob(schedule, **extra)))
    assert path in {e.path for e in err.errors}, err.message
    assert needle in err.message


async def test_cronjob_name_leaves_room_for_the_job_suffix(api) -> None:
    c = cronjob()
    c.metadata.name = "a" * 53
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, c))
    assert "must be no more than 52 characters" in err.message


async def test_cronjob_job_template_is_validated_as_a_job(api) -> None:
    c = cronjob()
    rule = c.spec.job_template.spec.pod_failure_policy.rules.add(action="Explode")
    rule.on_exit_codes.operator = "In"
    rule.on_exit_codes.values.append(1)
    c.spec.job_template.spec.active_deadline_seconds = 0
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, c))
    paths = {(e.path, e.reason) for e in err.errors}
    assert ("spec.jobTemplate.spec.podFailurePolicy.rules[0].action", "Unsupported value") in paths
    assert ("spec.jobTemplate.spec.activeDeadlineSeconds", "Invalid value") in paths
    c = cronjob()
    c.spec.job_template.spec.template.spec.restart_policy = "Always"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, c))
    assert ("spec.jobTemplate.spec.template.spec.restartPolicy", "Unsupported value") in {
        (e.path, e.reason) for e in err.errors
    }
    ok = cronjob()
    ok.spec.job_template.spec.completions = 3
    out = await create(api.stub, ok)
    assert not out.spec.job_template.spec.HasField("selector")  # generated per Job, not stored here
