"""Helpers for the Job/CronJob integration tests: the test plays the kubelet by writing pod status, and
can run the real controller-manager as a subprocess to kill -9 it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from skiff.api.batch.v1 import batch_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_common import errors

FINALIZER = "batch.kubernetes.io/job-tracking"


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def new_job(name: str, completions: int | None = 1, parallelism: int = 1, **spec: object) -> batch_pb2.Job:
    j = batch_pb2.Job(api_version="batch/v1", kind="Job", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    if completions is not None:
        j.spec.completions = completions
    j.spec.parallelism = parallelism
    j.spec.template.spec.containers.add(name="main", image="busybox:latest", command=["true"])
    for k, v in spec.items():
        setattr(j.spec, k, v)
    return j


async def job_pods(api: ApiClient, job: str, *, active_only: bool = False) -> list[pod_pb2.Pod]:
    pods = (await api.list(pod_pb2.Pod, "default", label_selector=f"batch.kubernetes.io/job-name={job}")).items
    if active_only:
        pods = [
            p
            for p in pods
            if not p.metadata.HasField("deletion_timestamp") and p.status.phase not in ("Succeeded", "Failed")
        ]
    return sorted(pods, key=lambda p: p.metadata.name)


async def finish(api: ApiClient, pod: pod_pb2.Pod, exit_code: int = 0, *, conditions: tuple[str, ...] = ()) -> None:
    """What a kubelet writes when the pod's container exits."""
    try:
        fresh = await api.get(pod_pb2.Pod, pod.metadata.name, "default")
    except errors.NotFound:
        return
    fresh.status.phase = "Succeeded" if exit_code == 0 else "Failed"
    del fresh.status.container_statuses[:]
    cs = fresh.status.container_statuses.add(name=fresh.spec.containers[0].name)
    cs.state.terminated.exit_code = exit_code
    cs.state.terminated.reason = "Completed" if exit_code == 0 else "Error"
    cs.state.terminated.finished_at.GetCurrentTime()
    for c in conditions:
        fresh.status.conditions.add(type=c, status="True", reason="Test")
    await api.update_status(fresh)


def condition(job: batch_pb2.Job, type_: str) -> meta_pb2.Condition | None:
    return next((c for c in job.status.conditions if c.type == type_ and c.status == "True"), None)


async def event_reasons(api: ApiClient, name: str) -> list[str]:
    events = (await api.list("events", "default")).items
    return [e.reason for e in events if e.involved_object.name == name]


class ManagerProcess:
    """The real skiff-controllers as a subprocess, without leader election (one instance at a time)."""

    def __init__(self, target: str, controllers: str, log: Path) -> None:
        self.target, self.controllers, self.log = target, controllers, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # handed to the child, closed with it
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "skiff_controllers.main",
                "--apiserver",
                self.target,
                "--controllers",
                self.controllers,
                "--leader-elect",
                "false",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        out.close()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None
