"""What the apiserver benchmarks share (bench/apiserver_bench.py, bench/rest_bench.py): the processes under
test (an etcd of their own), the concurrent load loop, percentiles and the one-line report, the pod they
create, and the CPU a process tree used (from /proc). A module of its own so neither benchmark imports
the other; `_api_` in its name keeps it apart from bench/_common.py (the DNS and proxy benchmarks')."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from skiff.api.core.v1 import pod_pb2

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def report(label: str, latencies: list[float], elapsed: float) -> float:
    ops = len(latencies) / elapsed if elapsed > 0 else 0.0
    print(
        f"  {label:<34} {ops:9.0f} ops/s   p50 {pct(latencies, 50) * 1000:7.2f} ms"
        f"   p99 {pct(latencies, 99) * 1000:7.2f} ms   (n={len(latencies)})"
    )
    return ops


async def run_concurrent(n: int, concurrency: int, op: Callable[[int], Awaitable[None]]) -> tuple[list[float], float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            t = time.perf_counter()
            await op(i)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - start


def make_pod(name: str, namespace: str = "default") -> pod_pb2.Pod:
    p = pod_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = namespace
    p.metadata.labels["app"] = "bench"
    c = p.spec.containers.add()
    c.name = "main"
    c.image = "nginx:1.25"
    c.resources.requests["cpu"].value = "100m"
    c.resources.requests["memory"].value = "64Mi"
    return p


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their children (apiserver workers), from /proc."""
    tck = os.sysconf("SC_CLK_TCK")
    total = 0.0
    family = set(pids)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(entry) in family or int(fields[1]) in family:
            total += (int(fields[11]) + int(fields[12])) / tck
    return total


def start_etcd(data_dir: Path, endpoint: str) -> subprocess.Popen[bytes]:
    """An etcd of the benchmark's own on 127.0.0.1 (a 4 GiB quota: the big lists need room), given a
    moment to listen."""
    proc = subprocess.Popen(
        [str(BIN / "etcd"), "--data-dir", str(data_dir), "--listen-client-urls", f"http://{endpoint}",
         "--advertise-client-urls", f"http://{endpoint}", "--listen-peer-urls",
         f"http://127.0.0.1:{free_port()}", "--log-level", "error", "--quota-backend-bytes", str(4 * 1024**3)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    time.sleep(1.5)
    return proc


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate in reverse start order (apiserver before etcd), killing what does not stop in 10 s."""
    for p in reversed(procs):
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
