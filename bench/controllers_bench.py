"""Controller benchmark on a real local cluster (printed numbers, not a test; needs root).

    sudo uv run python bench/controllers_bench.py                 # 100 pods
    sudo uv run python bench/controllers_bench.py --replicas 30   # quicker

The cluster is built the way tests/e2e builds one (an ephemeral ``skiff_cli.cluster`` layout: etcd,
registry, runtime, apiserver, scheduler, controllers, kubelet as processes), then:

  (a) scale-up: a Deployment (busybox httpd, the e2e manifest shape) scaled 0 -> N through the scale
      subresource; time until N pods are Ready and the Deployment reports N available;
  (b) rolling update of those N pods (maxSurge 25 %, maxUnavailable 25 %): image busybox -> busybox:1.36;
      time until the Deployment is complete on the new template;
  (c) per-pod startup latency over (a), from the pod's creation to Ready as seen by a watch, beside
      Kubernetes' pod startup SLO (p99 <= 5 s);
  (d) controller-manager CPU (utime+stime of its process) per reconcile, from /proc and the
      ``controller_runtime_reconcile_total`` metric;
  (e) CPU seconds of every component (and of the container shims) during (a) and (b): where the time
      goes on a machine whose wall-clock figures swing with other load; the timelines printed to
      stderr show the pods by template (ready/running/total), unscheduled and terminating each second.

Hook for more scenarios: append a coroutine ``(client, report) -> None`` to ``SCENARIOS`` (the batch
engineer adds "a Job of 100 completions, parallelism 10" there); each runs on the same cluster after
(b) and adds its figures to ``report``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient
from skiff_common.apimachinery.intstr import int_or_string
from skiff_common.grpcutil import TLSConfig

NS = "default"
NAME = "bench-deployment"
Report = dict[str, Any]
SCENARIOS: list[Callable[[ApiClient, Report], Awaitable[None]]] = []
IGNORE_TERM = False
RUN_SCENARIOS = True


def deployment(replicas: int) -> apps_pb2.Deployment:
    d = apps_pb2.Deployment(api_version="apps/v1", kind="Deployment")
    d.metadata.CopyFrom(meta_pb2.ObjectMeta(name=NAME, namespace=NS, labels={"app": NAME}))
    d.spec.replicas = replicas
    d.spec.selector.match_labels["app"] = NAME
    d.spec.template.metadata.labels["app"] = NAME
    c = d.spec.template.spec.containers.add(name="web", image="busybox")
    # busybox httpd as PID 1 ignores SIGTERM (the kernel drops default-action signals to a namespace's
    # init), so every old pod would wait out its 30 s grace period; a shell that exits on TERM behaves
    # like nginx does. --ignore-term measures the other case.
    if IGNORE_TERM:
        c.command.extend(["httpd", "-f", "-p", "80"])
    else:
        c.command.extend(["sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 & wait"])
    d.spec.strategy.type = "RollingUpdate"
    d.spec.strategy.rolling_update.max_surge.CopyFrom(int_or_string("25%"))
    d.spec.strategy.rolling_update.max_unavailable.CopyFrom(int_or_string("25%"))
    return d


def ready(pod: pod_pb2.Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def timeline(client: ApiClient, out: list[str]) -> None:
    """Every second: pods by template (ready/running/total), unscheduled and terminating ones -- where a
    rollout spends its time."""
    start = time.monotonic()
    while True:
        pods = (await client.list(pod_pb2.Pod, NS, label_selector=f"app={NAME}")).items
        by_image: dict[str, list[int]] = {}
        pending = terminating = 0
        for p in pods:
            if p.metadata.HasField("deletion_timestamp"):
                terminating += 1
                continue
            if not p.spec.node_name:
                pending += 1
            counts = by_image.setdefault(p.spec.containers[0].image, [0, 0, 0])
            counts[0] += ready(p)
            counts[1] += p.status.phase == "Running"
            counts[2] += 1
        cells = " ".join(f"{img}={r}/{run}/{n}" for img, (r, run, n) in sorted(by_image.items()))
        out.append(f"{time.monotonic() - start:6.1f}s {cells} unscheduled={pending} terminating={terminating}")
        await asyncio.sleep(1.0)


class PodClock:
    """Watches pods: when each was first seen and when it first became Ready (monotonic seconds)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.ready: dict[str, float] = {}

    async def run(self, client: ApiClient) -> None:
        page = await client.list(pod_pb2.Pod, NS, label_selector=f"app={NAME}")
        async for ev in client.watch(
            pod_pb2.Pod, NS, label_selector=f"app={NAME}", resource_version=page.resource_version
        ):
            now = time.monotonic()
            uid = ev.object.metadata.uid
            if ev.type == "ADDED":
                self.seen.setdefault(uid, now)
            if ev.type in ("ADDED", "MODIFIED") and ready(ev.object):
                self.ready.setdefault(uid, now)

    def latencies(self) -> list[float]:
        return sorted(self.ready[u] - self.seen[u] for u in self.ready if u in self.seen)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    k = max(0, min(len(values) - 1, round(p / 100 * len(values)) - 1))
    return values[k]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


COMPONENTS = ("etcd", "apiserver", "scheduler", "controllers", "kubelet", "runtime", "proxy", "dns")


def component_cpu(pid_dir: Path) -> dict[str, float]:
    """CPU seconds (utime+stime, plus reaped children's) of each component process: where the work goes,
    a figure that other load on the machine does not inflate the way it inflates wall time."""
    out: dict[str, float] = {}
    for name in COMPONENTS:
        pid = processes.running_pid(name, pid_dir)
        if pid is None:
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        out[name] = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return out


def shim_cpu() -> float:
    """CPU seconds of the runtime's container shims (separate processes, not the runtime's children)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if b"skiff_runtime.oci.shim" not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(") ", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before.get(k, 0.0), 1) for k in after}


def reconciles(metrics_address: str) -> float:
    with urllib.request.urlopen(f"http://{metrics_address}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("controller_runtime_reconcile_total{")
    )


async def wait_until(what: str, check: Callable[[], Awaitable[bool]], limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if await check():
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{what}: not done after {limit:.0f}s")


async def status_is(client: ApiClient, replicas: int, image: str) -> bool:
    d = await client.get(apps_pb2.Deployment, NAME, NS)
    s = d.status
    if s.observed_generation < d.metadata.generation:
        return False
    if (s.replicas, s.updated_replicas, s.available_replicas, s.ready_replicas) != (replicas,) * 4:
        return False
    return d.spec.template.spec.containers[0].image == image


async def bench(cluster: LocalCluster, replicas: int) -> Report:
    layout = cluster.layout
    admin = cluster.client_config()
    tls = TLSConfig(ca_file=admin.ca_file, cert_file=admin.cert_file, key_file=admin.key_file)
    client = ApiClient.connect(layout.apiserver_address, tls=tls, timeout=60)
    report: Report = {"replicas": replicas, "cores": os.cpu_count(), "containers_ignore_sigterm": IGNORE_TERM}
    pid = processes.running_pid("controllers", layout.pid_dir)
    assert pid is not None, "controllers not running"
    metrics = layout.metrics_address("controllers")
    try:
        await client.create(deployment(0))
        await wait_until("empty deployment", lambda: status_is(client, 0, "busybox"), 60)
        clock = PodClock()
        watcher = asyncio.create_task(clock.run(client))
        await asyncio.sleep(0.5)
        cpu0, rec0 = cpu_seconds(pid), reconciles(metrics)
        comp0 = {**component_cpu(layout.pid_dir), "shims": shim_cpu()}

        up_samples: list[str] = []
        up_sampler = asyncio.create_task(timeline(client, up_samples))
        scale = await client.get_scale(apps_pb2.Deployment, NAME, NS)
        scale.spec.replicas = replicas
        await client.update_scale(apps_pb2.Deployment, scale)
        report["scale_up_seconds"] = round(
            await wait_until("scale-up", lambda: status_is(client, replicas, "busybox"), 900), 2
        )
        up_sampler.cancel()
        print("scale-up timeline:\n  " + "\n  ".join(up_samples), file=sys.stderr)
        lat = clock.latencies()
        report["pod_startup_p50"] = round(percentile(lat, 50), 2)
        report["pod_startup_p90"] = round(percentile(lat, 90), 2)
        report["pod_startup_p99"] = round(percentile(lat, 99), 2)
        cpu1, rec1 = cpu_seconds(pid), reconciles(metrics)
        comp1 = {**component_cpu(layout.pid_dir), "shims": shim_cpu()}
        report["scale_up_cpu_s_by_component"] = cpu_delta(comp0, comp1)
        report["scale_up_controller_cpu_s"] = round(cpu1 - cpu0, 2)
        report["scale_up_reconciles"] = int(rec1 - rec0)

        samples: list[str] = []
        sampler = asyncio.create_task(timeline(client, samples))
        d = await client.get(apps_pb2.Deployment, NAME, NS)
        d.spec.template.spec.containers[0].image = "busybox:1.36"
        await client.update(d)
        report["rolling_update_seconds"] = round(
            await wait_until("rolling update", lambda: status_is(client, replicas, "busybox:1.36"), 900), 2
        )
        cpu2, rec2 = cpu_seconds(pid), reconciles(metrics)
        report["rolling_update_cpu_s_by_component"] = cpu_delta(
            comp1, {**component_cpu(layout.pid_dir), "shims": shim_cpu()}
        )
        sampler.cancel()
        print("rolling update timeline:\n  " + "\n  ".join(samples), file=sys.stderr)
        report["rolling_update_controller_cpu_s"] = round(cpu2 - cpu1, 2)
        report["rolling_update_reconciles"] = int(rec2 - rec1)
        total_rec = max(rec2 - rec0, 1)
        report["controller_cpu_ms_per_reconcile"] = round((cpu2 - cpu0) * 1000 / total_rec, 2)
        watcher.cancel()
        for scenario in SCENARIOS if RUN_SCENARIOS else []:
            await scenario(client, report)
        await client.delete(apps_pb2.Deployment, NAME, NS)
    finally:
        await client.close()
    return report


# The Job scenario (issue 7, batch engineer): 100 completions, parallelism 10, time to Complete.
from job_bench import job_scenario  # noqa: E402  # bench/ is the script's folder, on sys.path

SCENARIOS.append(job_scenario)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replicas", type=int, default=100)
    parser.add_argument("--ignore-term", action="store_true", help="containers ignore SIGTERM (30 s grace each)")
    parser.add_argument("--no-scenarios", action="store_true", help="only the Deployment (skip the Job scenario)")
    args = parser.parse_args()
    global IGNORE_TERM, RUN_SCENARIOS
    IGNORE_TERM = args.ignore_term
    RUN_SCENARIOS = not args.no_scenarios
    if os.geteuid() != 0:
        raise SystemExit("controllers_bench needs root (it runs a real cluster: namespaces, cgroups, mounts)")
    suffix = secrets.token_hex(3)
    with tempfile.TemporaryDirectory(prefix="skiff-bench-") as tmp:
        layout = ClusterLayout.ephemeral(Path(tmp), suffix, pod_subnet=200 + secrets.randbelow(50))
        cluster = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}", file=sys.stderr))
        try:
            cluster.up()
            report = asyncio.run(bench(cluster, args.replicas))
            print(json.dumps(report, indent=2), flush=True)  # before the (slow) teardown of N pods
        finally:
            cluster.down()


if __name__ == "__main__":
    main()
