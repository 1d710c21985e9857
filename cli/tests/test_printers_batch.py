"""`skiff get jobs,cronjobs` print kubectl's columns."""

from __future__ import annotations

import time

import pytest
from skiff.api.batch.v1 import batch_pb2
from skiff_cli.printers import table


def job(completions: int | None, parallelism: int, succeeded: int, conditions: tuple[str, ...] = ()) -> batch_pb2.Job:
    j = batch_pb2.Job()
    j.metadata.name = "pi"
    j.metadata.creation_timestamp.seconds = int(time.time()) - 300
    if completions is not None:
        j.spec.completions = completions
    j.spec.parallelism = parallelism
    j.spec.template.spec.containers.add(name="pi", image="perl:5.34")
    j.spec.selector.match_labels["batch.kubernetes.io/controller-uid"] = "u1"
    j.status.succeeded = succeeded
    j.status.start_time.seconds = int(time.time()) - 200
    for c in conditions:
        j.status.conditions.add(type=c, status="True")
    if "Complete" in conditions:
        j.status.completion_time.seconds = int(time.time()) - 155
    return j


@pytest.mark.parametrize(
    ("args", "row"),
    [
        ((5, 2, 3), "pi     Running   3/5           3m20s      5m"),
        ((1, 1, 1, ("Complete",)), "pi     Complete   1/1           45s        5m"),
        ((None, 3, 0), "pi     Running   0/1 of 3      3m20s      5m"),
        ((2, 1, 0, ("FailureTarget", "Failed")), "pi     Failed   0/2           3m20s      5m"),
        ((2, 1, 0, ("Suspended",)), "pi     Suspended   0/2           3m20s      5m"),
    ],
)
def test_job_columns(args: tuple, row: str) -> None:
    header, line = table("Job", [job(*args)]).splitlines()
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert line.split() == row.split()


def test_job_wide() -> None:
    header, line = table("Job", [job(1, 1, 0)], wide=True).splitlines()
    assert header.split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert line.split()[-3:] == ["pi", "perl:5.34", "batch.kubernetes.io/controller-uid=u1"]


def test_cronjob_columns() -> None:
    c = batch_pb2.CronJob()
    c.metadata.name = "hello"
    c.metadata.creation_timestamp.seconds = int(time.time()) - 600
    c.spec.schedule = "* * * * *"
    c.spec.suspend = False
    c.status.active.add(name="hello-1")
    c.status.last_schedule_time.seconds = int(time.time()) - 20
    header, line = table("CronJob", [c]).splitlines()
    assert header.split() == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert line.split() == ["hello", "*", "*", "*", "*", "*", "<none>", "False", "1", "20s", "10m"]
    c.spec.time_zone = "Europe/Paris"
    c.ClearField("status")
    assert table("CronJob", [c]).splitlines()[1].split()[6:9] == ["Europe/Paris", "False", "0"]
