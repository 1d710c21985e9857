"""Kubelet idle benchmark: CRI calls per idle pod per minute and kubelet CPU at N idle pods.

    sudo uv run python bench/kubelet_idle_bench.py [--pods 100] [--seconds 60] [--settle 20]

A real one-node cluster (the code of `skiff up`, in a temporary folder, on free ports, with its own
bridge, pod CIDR and cgroup root) runs ``--pods`` busybox pods that only sleep. Once all are Running
and ``--settle`` seconds have passed, the benchmark samples for ``--seconds``:

* CRI calls, counted at the kubelet's CRI client: the kubelet's own
  ``skiff_grpc_client_handled_total`` counters for the ``runtime.v1`` services, read from its
  Prometheus endpoint before and after (per method, and per idle pod per minute);
* kubelet CPU: utime + stime of the kubelet process from ``/proc/<pid>/stat``, as a share of one core
  (the runtime's is printed beside it for context).

Nothing changes in the cluster while sampling, so every call counted is the cost of keeping idle pods
converged: the relist (PLEG), periodic resyncs and housekeeping. Prints figures; asserts nothing.
Everything the run created (pods, processes, bridge, cgroups) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import ssl
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient

CLK_TCK = os.sysconf("SC_CLK_TCK")
_CRI_LINE = re.compile(r"^skiff_grpc_client_handled_total\{([^}]*)\} ([0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def cri_calls(metrics_address: str, context: ssl.SSLContext) -> Counter[str]:
    """CRI calls the kubelet made so far, by method (every status code), from its HTTPS stats port."""
    with urllib.request.urlopen(f"https://{metrics_address}/metrics", context=context, timeout=5) as resp:
        text = resp.read().decode()
    out: Counter[str] = Counter()
    for line in text.splitlines():
        m = _CRI_LINE.match(line)
        if m is None:
            continue
        labels = dict(_LABEL.findall(m.group(1)))
        if labels.get("service", "").startswith("runtime.v1."):
            out[labels["method"]] += int(float(m.group(2)))
    return out


def sleeper(name: str) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    pod.spec.containers.add(
        name="sleep", image="busybox:latest", command=["sleep", "36000"], image_pull_policy="IfNotPresent"
    )
    pod.spec.termination_grace_period_seconds = 0
    return pod


async def running_count(api: ApiClient) -> int:
    pods = await api.list_all(pod_pb2.Pod, "default")
    return sum(1 for p in pods.items if p.status.phase == "Running")


async def run(cluster: LocalCluster, args: argparse.Namespace) -> None:
    admin = cluster.tls["admin"]
    api = ApiClient.connect(cluster.layout.apiserver_address, tls=admin, wait_for_ready=True)
    names = [f"idle-{i:03d}" for i in range(args.pods)]
    try:
        t0 = time.monotonic()
        for name in names:
            await api.create(sleeper(name))
        while (n := await running_count(api)) < args.pods:
            if time.monotonic() - t0 > args.start_timeout:
                raise SystemExit(f"only {n}/{args.pods} pods Running after {args.start_timeout}s")
            await asyncio.sleep(2)
        print(f"  {args.pods} pods Running after {time.monotonic() - t0:.0f}s; settling {args.settle}s")
        await asyncio.sleep(args.settle)

        layout = cluster.layout
        kubelet = processes.running_pid("kubelet", layout.pid_dir)
        runtime = processes.running_pid("runtime", layout.pid_dir)
        assert kubelet is not None and runtime is not None
        metrics = layout.metrics_address("kubelet")
        reader = cluster.tls["apiserver-kubelet-client"]  # system:kubelet-api-admin may read it
        context = ssl.create_default_context(cafile=reader.ca_file)
        context.load_cert_chain(reader.cert_file, reader.key_file)
        calls0, k0, r0, w0 = cri_calls(metrics, context), cpu_seconds(kubelet), cpu_seconds(runtime), time.monotonic()
        await asyncio.sleep(args.seconds)
        calls1, k1, r1, w1 = cri_calls(metrics, context), cpu_seconds(kubelet), cpu_seconds(runtime), time.monotonic()
        still = await running_count(api)

        wall = w1 - w0
        calls = calls1 - calls0
        total = sum(calls.values())
        per_pod_min = total / args.pods / (wall / 60)
        print(f"\n  sampled {wall:.1f}s at {args.pods} idle pods ({still} still Running)")
        print(f"  CRI calls total {total}  ->  {per_pod_min:.2f} per idle pod per minute")
        for method, n in sorted(calls.items(), key=lambda kv: -kv[1]):
            print(f"    {method:<24} {n:6d}  ({n / (wall / 60):8.1f}/min)")
        print(f"  kubelet CPU  {100 * (k1 - k0) / wall:5.2f} % of a core   (goal < 2 %)")
        print(f"  runtime CPU  {100 * (r1 - r0) / wall:5.2f} % of a core   (context)")
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
    parser.add_argument("--start-timeout", type=float, default=600.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the kubelet benchmark runs a real cluster: run it as root")
    print(f"kubelet idle benchmark: {args.pods} pods, {args.seconds:.0f}s sample, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="skiff-kubelet-bench-") as tmp:
        suffix = secrets.token_hex(3)
        layout = ClusterLayout.ephemeral(Path(tmp), suffix, pod_subnet=200 + secrets.randbelow(50))
        cluster = LocalCluster(layout, say=lambda line: print(f"  [cluster] {line}"))
        try:
            cluster.up()
            asyncio.run(run(cluster, args))
        finally:
            cluster.down()


if __name__ == "__main__":
    main()
