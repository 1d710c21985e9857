"""Job benchmark: a Job of 100 completions with parallelism 10 on a real local cluster, time to Complete.

    sudo uv run python bench/job_bench.py [--completions 100] [--parallelism 10] [--runs 1]

Brings up a throw-away cluster (the e2e tests' layout: its own ports, bridge, pod subnet and cgroup
root; torn down by ``skiff down``'s code at the end), then for each run creates a Job of busybox
``true`` pods and waits for its Complete condition. Prints, per run: wall time from the create to
Complete, the pods' startup latency (creation to the container's start, Kubernetes' pod startup SLI
without image pulls: the image is pulled once by a warm-up pod first) at p50/p99 beside the SLO
(p99 <= 5 s), and the controller-manager's CPU time divided by the pods it ran. Asserts nothing.

``job_scenario`` is the same Job as a scenario of ``bench/controllers_bench.py`` (after its Deployment
scale-up and rolling update, on the same cluster), reported in that bench's JSON as ``job_100x10_*``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from skiff.api.batch.v1 import batch_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def seconds(ts) -> float:  # type: ignore[no-untyped-def]
    return float(ts.seconds) + ts.nanos / 1e9


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(p / 100 * len(ordered))))
    return ordered[rank - 1]


def job(name: str, completions: int, parallelism: int) -> batch_pb2.Job:
    j = batch_pb2.Job(api_version="batch/v1", kind="Job", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    j.spec.completions, j.spec.parallelism = completions, parallelism
    c = j.spec.template.spec.containers.add(name="main", image="busybox:latest", command=["true"])
    c.image_pull_policy = "IfNotPresent"
    return j


async def wait_complete(api: ApiClient, name: str, limit: float) -> batch_pb2.Job:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        got = await api.get(batch_pb2.Job, name, "default")
        if any(c.type in ("Complete", "Failed") and c.status == "True" for c in got.status.conditions):
            return got
        await asyncio.sleep(0.1)
    raise TimeoutError(f"job {name} did not finish in {limit:.0f} s")


async def one_run(api: ApiClient, name: str, args: argparse.Namespace, controllers_pid: int) -> None:
    cpu0 = cpu_seconds(controllers_pid)
    t0 = time.monotonic()
    await api.create(job(name, args.completions, args.parallelism))
    done = await wait_complete(api, name, args.timeout)
    wall = time.monotonic() - t0
    cpu = cpu_seconds(controllers_pid) - cpu0
    pods = (await api.list(pod_pb2.Pod, "default", label_selector=f"batch.kubernetes.io/job-name={name}")).items
    startup = pod_startups(pods)
    outcome = next(c.type for c in done.status.conditions if c.status == "True" and c.type in ("Complete", "Failed"))
    print(
        f"{name}: {outcome} succeeded={done.status.succeeded} failed={done.status.failed} pods={len(pods)} "
        f"wall={wall:.1f} s  ({args.completions / wall:.1f} completions/s)"
    )
    if startup:
        print(
            f"  pod startup (creation -> container start), n={len(startup)}: p50 {pct(startup, 50):.2f} s, "
            f"p99 {pct(startup, 99):.2f} s, max {max(startup):.2f} s   (SLO: p99 <= 5 s)"
        )
    print(f"  controller-manager CPU {cpu:.2f} s = {1000 * cpu / max(len(pods), 1):.1f} ms per pod")
    for p in pods:
        await api.delete(pod_pb2.Pod, p.metadata.name, "default")
    await api.delete(batch_pb2.Job, name, "default")


async def job_scenario(api: ApiClient, report: dict[str, Any]) -> None:
    """bench/controllers_bench.py's scenario hook: one Job of 100 completions, parallelism 10, on the
    cluster that bench already warmed up (busybox pulled); time to Complete and pod startup into report."""
    name = "bench-job"
    t0 = time.monotonic()
    await api.create(job(name, 100, 10))
    done = await wait_complete(api, name, 900)
    report["job_100x10_seconds"] = round(time.monotonic() - t0, 2)
    report["job_100x10_succeeded"] = done.status.succeeded
    pods = (await api.list(pod_pb2.Pod, "default", label_selector=f"batch.kubernetes.io/job-name={name}")).items
    startup = pod_startups(pods)
    if startup:
        report["job_pod_startup_p50"] = round(pct(startup, 50), 2)
        report["job_pod_startup_p99"] = round(pct(startup, 99), 2)
    for p in pods:
        await api.delete(pod_pb2.Pod, p.metadata.name, "default")
    await api.delete(batch_pb2.Job, name, "default")


def pod_startups(pods: list[pod_pb2.Pod]) -> list[float]:
    return [
        seconds(cs.state.terminated.started_at) - seconds(p.metadata.creation_timestamp)
        for p in pods
        for cs in p.status.container_statuses
        if cs.state.HasField("terminated") and cs.state.terminated.HasField("started_at")
    ]


async def run(cluster: LocalCluster, args: argparse.Namespace) -> None:
    cfg = cluster.client_config()
    api = ApiClient.connect(cfg.server, tls=cfg.tls)
    try:
        pid = processes.running_pid("controllers", cluster.layout.pid_dir)
        assert pid is not None, "controllers not running"
        # Warm-up: pull the image once, so the runs measure scheduling and starting, not the pull.
        await api.create(job("warmup", 1, 1))
        await wait_complete(api, "warmup", args.timeout)
        for i in range(args.runs):
            await one_run(api, f"bench-{i}", args, pid)
    finally:
        await api.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--completions", type=int, default=100)
    ap.add_argument("--parallelism", type=int, default=10)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("job_bench: needs root (a real local cluster: namespaces, cgroups, mounts)")
    with tempfile.TemporaryDirectory(prefix="skiff-job-bench-") as tmp:
        suffix = secrets.token_hex(3)
        layout = ClusterLayout.ephemeral(Path(tmp), suffix, pod_subnet=200 + secrets.randbelow(50))
        cluster = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}", file=sys.stderr))
        try:
            cluster.up()
            asyncio.run(run(cluster, args))
        finally:
            cluster.down()


if __name__ == "__main__":
    main()
