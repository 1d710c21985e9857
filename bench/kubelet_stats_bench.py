"""Kubelet stats benchmark: CPU and memory of the kubelet's resource statistics at N pods, and metrics
freshness (a pod starts burning CPU -> metrics.k8s.io shows it).

    sudo uv run python bench/kubelet_stats_bench.py [--pods 100] [--seconds 60]

A real one-node cluster (the code of `skiff up`, in a temporary folder, on free ports) runs ``--pods``
busybox pods that sleep. Two windows of ``--seconds`` are sampled:

* as deployed: skiff-metrics scrapes `/metrics/resource` every 15 s (one stats collection each);
* forced: in addition the benchmark reads `/metrics/resource` every 5.5 s, so that each read collects.

The kubelet's CPU (utime + stime from /proc) difference between the windows, divided by the extra
collections (the kubelet's ``kubelet_stats_collection_duration_seconds_count``), is the CPU cost of one
collection; at one scrape per 15 s that is the stats' share of a core. Then a pod that burns CPU is
started and the time until its usage (>= 100m) is served by metrics.k8s.io through the apiserver is the
freshness. Prints figures; asserts nothing. Everything the run created is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import secrets
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient

CLK_TCK = os.sysconf("SC_CLK_TCK")
_COUNT = re.compile(r"^kubelet_stats_collection_duration_seconds_(count|sum) ([0-9.e+]+)$", re.M)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def kubelet_context(cluster: LocalCluster) -> ssl.SSLContext:
    """The kubelet's stats port is HTTPS and authorizes each caller: read it as the apiserver's kubelet
    client (system:kubelet-api-admin), with the cluster CA."""
    tls = cluster.tls["apiserver-kubelet-client"]
    context = ssl.create_default_context(cafile=tls.ca_file)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


def collections(address: str, context: ssl.SSLContext) -> tuple[float, float]:
    with urllib.request.urlopen(f"https://{address}/metrics", context=context, timeout=10) as resp:
        found = dict(_COUNT.findall(resp.read().decode()))
    return float(found.get("count", 0)), float(found.get("sum", 0))


def pod(name: str, command: list[str]) -> pod_pb2.Pod:
    p = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    p.spec.containers.add(name="main", image="busybox:latest", command=command, image_pull_policy="IfNotPresent")
    p.spec.termination_grace_period_seconds = 0
    return p


async def running(api: ApiClient) -> int:
    return sum(1 for p in (await api.list_all(pod_pb2.Pod, "default")).items if p.status.phase == "Running")


async def window(
    kubelet: int, address: str, context: ssl.SSLContext, seconds: float, force: bool
) -> tuple[float, float, float, float]:
    c0, s0, k0, w0 = *collections(address, context), cpu_seconds(kubelet), time.monotonic()
    deadline = w0 + seconds
    while time.monotonic() < deadline:
        if force:
            await asyncio.to_thread(
                lambda: urllib.request.urlopen(
                    f"https://{address}/metrics/resource", context=context, timeout=30
                ).read()
            )
        await asyncio.sleep(5.5 if force else 1.0)
    c1, s1, k1, w1 = *collections(address, context), cpu_seconds(kubelet), time.monotonic()
    return c1 - c0, s1 - s0, k1 - k0, w1 - w0


async def run(cluster: LocalCluster, args: argparse.Namespace) -> None:
    layout, admin = cluster.layout, cluster.tls["admin"]
    api = ApiClient.connect(layout.apiserver_address, tls=admin, wait_for_ready=True)
    names = [f"idle-{i:03d}" for i in range(args.pods)]
    try:
        t0 = time.monotonic()
        for name in names:
            await api.create(pod(name, ["sleep", "36000"]))
        while (n := await running(api)) < args.pods:
            if time.monotonic() - t0 > args.start_timeout:
                raise SystemExit(f"only {n}/{args.pods} pods Running after {args.start_timeout}s")
            await asyncio.sleep(2)
        print(f"  {args.pods} pods Running after {time.monotonic() - t0:.0f}s; settling {args.settle}s")
        await asyncio.sleep(args.settle)
        kubelet = processes.running_pid("kubelet", layout.pid_dir)
        assert kubelet is not None
        address = layout.metrics_address("kubelet")
        reader = kubelet_context(cluster)
        n_a, _, cpu_a, wall_a = await window(kubelet, address, reader, args.seconds, force=False)
        n_b, t_b, cpu_b, wall_b = await window(kubelet, address, reader, args.seconds, force=True)
        per = max((cpu_b - cpu_a * wall_b / wall_a) / max(n_b - n_a * wall_b / wall_a, 1), 0.0)
        print(
            f"\n  {args.pods} pods: kubelet CPU as deployed {100 * cpu_a / wall_a:.2f} % of a core "
            f"({n_a:.0f} collections in {wall_a:.0f}s); forced {100 * cpu_b / wall_b:.2f} % ({n_b:.0f} collections)"
        )
        print(f"  one collection: {1000 * per:.1f} ms CPU, {1000 * t_b / max(n_b, 1):.1f} ms wall")
        print(f"  stats at one scrape per 15 s: {100 * per / 15:.3f} % of a core   (goal < 1 % at 100 pods)")
        print(f"  kubelet RSS {rss_mib(kubelet):.0f} MiB")

        # Freshness: a burner starts; how long until metrics.k8s.io (through the apiserver) shows >= 100m?
        context = ssl.create_default_context(cafile=admin.ca_file)
        context.load_cert_chain(admin.cert_file, admin.key_file)
        url = f"{layout.rest_url}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/burner"
        await api.create(pod("burner", ["sh", "-c", "while :; do :; done"]))
        for _ in range(600):  # polling the apiserver, as a user would
            if (await api.get(pod_pb2.Pod, "burner", "default")).status.phase == "Running":
                break
            await asyncio.sleep(0.2)
        started = time.monotonic()

        def burner_cpu() -> str:
            with urllib.request.urlopen(url, context=context, timeout=10) as resp:
                return str(json.load(resp)["containers"][0]["usage"]["cpu"])

        while time.monotonic() - started < 120:
            try:
                usage = await asyncio.to_thread(burner_cpu)
                if int(usage.rstrip("n")) >= 100_000_000:
                    took = time.monotonic() - started
                    print(f"  freshness: burner Running -> {usage} in metrics.k8s.io after {took:.1f}s")
                    break
            except OSError:
                pass
            await asyncio.sleep(0.5)
        names.append("burner")
    finally:
        for name in names:
            try:
                await api.delete(pod_pb2.Pod, name, "default", grace_period_seconds=0)
            except Exception:  # never created, or already gone
                pass
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--start-timeout", type=float, default=900.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the kubelet stats benchmark runs a real cluster: run it as root")
    print(f"kubelet stats benchmark: {args.pods} pods, {args.seconds:.0f}s windows, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="skiff-stats-bench-") as tmp:
        layout = ClusterLayout.ephemeral(Path(tmp), secrets.token_hex(3), pod_subnet=200 + secrets.randbelow(50))
        cluster = LocalCluster(layout, say=lambda line: print(f"  [cluster] {line}"))
        try:
            cluster.up()
            asyncio.run(run(cluster, args))
        finally:
            cluster.down()


if __name__ == "__main__":
    main()
