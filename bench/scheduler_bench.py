"""Scheduler throughput and latency, scheduler_perf's workloads, against a real apiserver and etcd.

    uv run python bench/scheduler_bench.py --workload SchedulingBasic --nodes 5000 --init-pods 1000 --pods 10000
    uv run python bench/scheduler_bench.py --workload SchedulingPodAntiAffinity --nodes 500 --pods 400
    uv run python bench/scheduler_bench.py --workload TopologySpreading --nodes 500 --pods 1000
    uv run python bench/scheduler_bench.py --workload PreemptionBasic --nodes 500 --pods 500

Each run starts its own etcd and skiff-apiserver process, creates the nodes as scheduler_perf does
(Node objects with capacity: cpu 4, memory 32Gi, pods 110; zone labels), then:
  1. init pods: created, scheduled by a first skiff-scheduler process, which is then stopped;
  2. measured pods: created while no scheduler runs (mode ``precreate``, the default), then a fresh
     skiff-scheduler process is started and the bench watches the bindings; or created while the
     scheduler runs (mode ``concurrent``: throughput is then bounded by the create rate).
Throughput is scheduler_perf's: bound pods per second over the whole measured phase (average), and
the distribution of 1-second windows (p50/p90/p99). Latency: the scheduler's own
scheduler_pod_scheduling_sli_duration_seconds (first attempt -> bound), p50/p99 from its histogram,
and in concurrent mode also create -> bound seen by a watch. CPU seconds per process tell which
component runs out first. kube-scheduler's thresholds (scheduler_perf's performance-config.yaml)
are printed beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.api.scheduling.v1 import priorityclass_pb2
from skiff_client import ApiClient

BIN = Path(sys.executable).parent
ZONE = "topology.kubernetes.io/zone"
# kube-scheduler's thresholds from scheduler_perf (test/integration/scheduler_perf/misc/performance-config.yaml).
THRESHOLDS = {
    ("SchedulingBasic", 5000): 270,
    ("SchedulingBasic", 500): 270,
    ("SchedulingPodAntiAffinity", 5000): 70,
    ("SchedulingPodAntiAffinity", 500): 70,
    ("TopologySpreading", 5000): 85,
    ("TopologySpreading", 500): 85,
    ("PreemptionBasic", 500): 18,
    ("PreemptionBasic", 5000): 18,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


# -- objects (scheduler_perf's templates) --------------------------------------------------------------
def node(i: int, zones: int) -> node_pb2.Node:
    n = node_pb2.Node(api_version="v1", kind="Node", metadata=meta_pb2.ObjectMeta(name=f"node-{i:05d}"))
    n.metadata.labels["kubernetes.io/hostname"] = n.metadata.name
    n.metadata.labels[ZONE] = f"zone-{i % zones}"
    return n


def node_status(n: node_pb2.Node) -> None:
    for k, v in (("cpu", "4"), ("memory", "32Gi"), ("pods", "110")):
        n.status.capacity[k].value = v
        n.status.allocatable[k].value = v
    n.status.conditions.add(type="Ready", status="True")


def pod(name: str, workload: str, *, measured: bool) -> pod_pb2.Pod:
    p = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    c = p.spec.containers.add(name="pause", image="registry.k8s.io/pause:3.9")
    c.resources.requests["cpu"].value = "100m"
    c.resources.requests["memory"].value = "500Mi"
    p.spec.termination_grace_period_seconds = 0
    if workload == "SchedulingPodAntiAffinity":
        p.metadata.labels["color"] = "green"
        term = p.spec.affinity.pod_anti_affinity.required_during_scheduling_ignored_during_execution.add()
        term.label_selector.match_labels["color"] = "green"
        term.topology_key = "kubernetes.io/hostname"
    elif workload == "TopologySpreading":
        p.metadata.labels["color"] = "blue"
        if measured:
            tsc = p.spec.topology_spread_constraints.add(
                max_skew=5, topology_key=ZONE, when_unsatisfiable="DoNotSchedule"
            )
            tsc.label_selector.match_labels["color"] = "blue"
    elif workload == "PreemptionBasic":
        # init pods fill the nodes (4 x 900m on a 4-cpu node); measured pods need a victim each
        c.resources.requests["cpu"].value = "900m"
        p.spec.priority_class_name = "high" if measured else "low"
    return p


# -- processes -----------------------------------------------------------------------------------------
class Cluster:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.etcd = f"127.0.0.1:{free_port()}"
        self.api = f"127.0.0.1:{free_port()}"
        self.metrics = f"127.0.0.1:{free_port()}"

    def start(self) -> None:
        self.procs["etcd"] = subprocess.Popen(
            [str(BIN / "etcd"), "--data-dir", str(self.tmp / "etcd"), "--listen-client-urls", f"http://{self.etcd}",
             "--advertise-client-urls", f"http://{self.etcd}", "--listen-peer-urls", f"http://127.0.0.1:{free_port()}",
             "--log-level", "error", "--quota-backend-bytes", str(4 * 1024**3)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(1.5)
        self.procs["apiserver"] = subprocess.Popen(
            [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",  # no SA controller
             "--listen", self.api, "--etcd-endpoints", self.etcd, "--log-level",
             "warning", "--max-inflight", "0", "--watch-queue-size", "100000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip

    def start_scheduler(self, extra: list[str]) -> None:
        self.stop_scheduler()
        self.metrics = f"127.0.0.1:{free_port()}"
        log = open(self.tmp / "scheduler.log", "ab")
        self.procs["scheduler"] = subprocess.Popen(
            [str(BIN / "skiff-scheduler"), "--apiserver", self.api, "--metrics-address", self.metrics,
             "--log-level", "warning", *extra],
            stdout=log, stderr=log)  # fmt: skip

    def stop_scheduler(self) -> None:
        p = self.procs.pop("scheduler", None)
        if p is not None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def check_scheduler(self) -> None:
        p = self.procs.get("scheduler")
        if p is not None and p.poll() is not None:
            tail = (self.tmp / "scheduler.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"skiff-scheduler exited with {p.returncode}:\n{tail}")

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(p.pid) for name, p in self.procs.items()}

    def stop(self) -> None:
        self.stop_scheduler()
        for p in reversed(list(self.procs.values())):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()

    def scrape(self) -> str:
        try:
            with urllib.request.urlopen(f"http://{self.metrics}/metrics", timeout=5) as r:
                return str(r.read().decode())
        except OSError:
            return ""


def histogram_quantiles(text: str, name: str, qs: tuple[float, ...]) -> dict[float, float]:
    """Quantiles from a Prometheus histogram's cumulative buckets (summed over label sets), upper bound."""
    buckets: dict[float, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            bound = float("inf") if le == "+Inf" else float(le)
            buckets[bound] = buckets.get(bound, 0.0) + float(line.rsplit(" ", 1)[1])
    if not buckets:
        return {}
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    return {q: next((b for b in bounds if buckets[b] >= q * total), bounds[-1]) for q in qs}


# -- the run -------------------------------------------------------------------------------------------
async def create_all(api: ApiClient, objs: list[Any], concurrency: int, status: bool = False) -> float:
    sem = asyncio.Semaphore(concurrency)
    t0 = time.monotonic()

    async def one(o: Any) -> None:
        async with sem:
            created = await api.create(o)
            if status:
                node_status(created)
                await api.update_status(created)

    await asyncio.gather(*(one(o) for o in objs))
    return time.monotonic() - t0


class BindWatch:
    """Watches pods with spec.nodeName set; records when each measured pod was first seen bound."""

    def __init__(self, api: ApiClient, prefix: str) -> None:
        self.api = api
        self.prefix = prefix
        self.bound: dict[str, float] = {}
        self.task: asyncio.Task[None] | None = None

    async def run(self, rv: str) -> None:
        while True:
            try:
                async for ev in self.api.watch(
                    pod_pb2.Pod, "default", field_selector="spec.nodeName!=", resource_version=rv
                ):
                    obj: Any = ev.object
                    rv = obj.metadata.resource_version or rv
                    if ev.type in ("ADDED", "MODIFIED") and obj.metadata.name.startswith(self.prefix):
                        self.bound.setdefault(obj.metadata.name, time.monotonic())
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.2)


async def wait_bound(api: ApiClient, cluster: Cluster, names: set[str], limit_s: float) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        page = await api.list_all(pod_pb2.Pod, "default", field_selector="spec.nodeName!=")
        done = sum(1 for p in page.items if p.metadata.name in names)
        if done >= len(names):
            return done
        print(f"  init: {done}/{len(names)} bound", flush=True)
        cluster.check_scheduler()
        await asyncio.sleep(1.0)
    return done


async def run(args: argparse.Namespace, cluster: Cluster) -> dict[str, Any]:
    api = ApiClient.connect(cluster.api, wait_for_ready=True)
    out: dict[str, Any] = {}
    if args.workload == "PreemptionBasic":
        for name, value in (("low", 1), ("high", 1000)):
            await api.create(
                priorityclass_pb2.PriorityClass(api_version="scheduling.k8s.io/v1", kind="PriorityClass",
                                                metadata=meta_pb2.ObjectMeta(name=name), value=value))  # fmt: skip
    print(f"creating {args.nodes} nodes", flush=True)
    out["nodes_create_s"] = await create_all(api, [node(i, args.zones) for i in range(args.nodes)], 50, status=True)
    extra = ["--scheduler-config", args.config] if args.config else []
    init = [pod(f"init-{i}", args.workload, measured=False) for i in range(args.init_pods)]
    if init:
        out["init_create_s"] = await create_all(api, init, 50)
        print(f"init pods created in {out['init_create_s']:.1f}s; scheduling them", flush=True)
        cluster.start_scheduler(extra)
        t0 = time.monotonic()
        bound = await wait_bound(api, cluster, {p.metadata.name for p in init}, args.timeout)
        out["init_schedule_s"] = time.monotonic() - t0
        out["init_bound"] = bound
        cluster.stop_scheduler()
    measured = [pod(f"m-{i}", args.workload, measured=True) for i in range(args.pods)]
    page = await api.list(pod_pb2.Pod, "default", limit=1)
    watch = BindWatch(api, "m-")
    watch.task = asyncio.create_task(watch.run(page.resource_version))
    created_at: dict[str, float] = {}
    cpu0: dict[str, float] = {}
    if args.mode == "precreate":
        out["measured_create_s"] = await create_all(api, measured, 50)
        print(f"measured pods created in {out['measured_create_s']:.1f}s; starting the scheduler", flush=True)
        cpu0 = cluster.cpu()
        cluster.start_scheduler(extra)
        start = time.monotonic()
    else:
        cluster.start_scheduler(extra)
        await asyncio.sleep(3.0)  # informers synced
        cpu0 = cluster.cpu()
        start = time.monotonic()
        sem = asyncio.Semaphore(50)

        async def one(p: pod_pb2.Pod) -> None:
            async with sem:
                await api.create(p)
                created_at[p.metadata.name] = time.monotonic()

        creating = asyncio.create_task(asyncio.gather(*(one(p) for p in measured)))
    deadline = start + args.timeout
    last_report = time.monotonic()
    while len(watch.bound) < len(measured) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        cluster.check_scheduler()
        if time.monotonic() - last_report > 10:
            last_report = time.monotonic()
            print(f"  {len(watch.bound)}/{len(measured)} bound after {last_report - start:.0f}s", flush=True)
    if args.mode != "precreate":
        await creating
    cpu1 = cluster.cpu()
    metrics_text = cluster.scrape()
    watch.task.cancel()
    times = sorted(watch.bound.values())
    out["measured_bound"] = len(times)
    if len(times) >= 2:
        first, last = times[0], times[-1]
        out["avg_pods_per_s"] = (len(times) - 1) / max(1e-9, last - first)
        windows: list[float] = []
        t, i = first, 0
        while t < last:
            n = 0
            while i < len(times) and times[i] < t + 1.0:
                n += 1
                i += 1
            windows.append(float(n))
            t += 1.0
        out["window_p50"], out["window_p90"], out["window_p99"] = (pct(windows, q) for q in (50, 90, 99))
        out["phase_s"] = last - start
    sli = histogram_quantiles(metrics_text, "scheduler_pod_scheduling_sli_duration_seconds", (0.5, 0.99))
    out["sli_p50_s"], out["sli_p99_s"] = sli.get(0.5), sli.get(0.99)
    if created_at:
        lat = [watch.bound[n] - created_at[n] for n in watch.bound if n in created_at]
        out["e2e_p50_s"], out["e2e_p99_s"] = pct(lat, 50), pct(lat, 99)
    out["cpu_s"] = {k: round(cpu1.get(k, 0) - cpu0.get(k, 0), 1) for k in cpu1}
    out["threshold"] = THRESHOLDS.get((args.workload, args.nodes))
    await api.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--workload",
        default="SchedulingBasic",
        choices=["SchedulingBasic", "SchedulingPodAntiAffinity", "TopologySpreading", "PreemptionBasic"],
    )
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--init-pods", type=int, default=500)
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--zones", type=int, default=3)
    ap.add_argument("--mode", choices=["precreate", "concurrent"], default="precreate")
    ap.add_argument("--config", default="", help="KubeSchedulerConfiguration for the scheduler")
    ap.add_argument("--timeout", type=float, default=900.0)
    args = ap.parse_args()
    if args.config:
        args.config = str(Path(args.config).resolve())
    tmp = Path(tempfile.mkdtemp(prefix="skiff-scheduler-bench-"))
    cluster = Cluster(tmp)
    try:
        cluster.start()
        out = asyncio.run(run(args, cluster))
    finally:
        cluster.stop()
        log = tmp / "scheduler.log"
        if log.exists():
            errors = [ln for ln in log.read_text(errors="replace").splitlines() if '"level": "error"' in ln]
            if errors:
                print(f"scheduler errors: {len(errors)}; first: {errors[0][:300]}")
        shutil.rmtree(tmp, ignore_errors=True)
    label = f"{args.workload} {args.nodes} nodes, {args.init_pods} init + {args.pods} measured pods ({args.mode})"
    print(label)
    for k, v in out.items():
        print(f"  {k}: {round(v, 2) if isinstance(v, float) else v}")


if __name__ == "__main__":
    main()
