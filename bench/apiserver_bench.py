"""Apiserver benchmark (printed numbers, not a test).

    uv run python bench/apiserver_bench.py                      # own etcd + own apiserver process
    uv run python bench/apiserver_bench.py --ops 500 --watchers 200 --list-pods 2000   # quicker

In one run, on the same etcd:
  (a) raw etcd transactions (create txns) through the apiserver's own etcd client (aetcd stubs);
  (b) Create, Get, Update and List through the apiserver from concurrent clients, and the ratio of
      create throughput to (a); plus paced mutating latency at 20 writes/s;
  (c) N watchers on pods: latency from the start of a write to its delivery to every watcher;
  (d) List of M pods from the watch cache (resourceVersion "0") and from etcd ("").
The apiserver runs as its own process (`skiff-apiserver`), so client work does not share its event loop;
both still share the machine's cores, which inflates every latency a little.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
from skiff.api.core.v1 import pod_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import kinds
from skiff_apiserver.storage.etcd import EtcdClient

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


async def run_concurrent(
    n: int, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> tuple[list[float], float]:
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


async def bench_raw_etcd(endpoint: str, n: int, concurrency: int) -> float:
    client = EtcdClient([endpoint])
    value = make_pod("raw").SerializeToString()
    lat, elapsed = await run_concurrent(
        n, concurrency, lambda i: client.create(f"/bench-raw/{i}".encode(), value)
    )
    ops = report("(a) raw etcd create txn", lat, elapsed)
    await client.close()
    return ops


async def bench_apiserver(stub: apiserver_pb2_grpc.ApiServerStub, n: int, concurrency: int, ns: str) -> float:
    async def create(i: int) -> None:
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"p{i}", ns))))

    lat, elapsed = await run_concurrent(n, concurrency, create)
    create_ops = report("(b) apiserver Create", lat, elapsed)

    async def get(i: int) -> None:
        await stub.Get(pb.GetRequest(resource="pods", namespace=ns, name=f"p{i}"))

    lat, elapsed = await run_concurrent(n, concurrency, get)
    report("(b) apiserver Get (etcd)", lat, elapsed)

    async def get_cached(i: int) -> None:
        await stub.Get(pb.GetRequest(resource="pods", namespace=ns, name=f"p{i}", resource_version="0"))

    lat, elapsed = await run_concurrent(n, concurrency, get_cached)
    report("(b) apiserver Get (cache, rv=0)", lat, elapsed)

    async def update(i: int) -> None:
        resp = await stub.Get(pb.GetRequest(resource="pods", namespace=ns, name=f"p{i}"))
        obj = kinds.unpack(resp.object)
        obj.metadata.labels["touched"] = "yes"  # type: ignore[attr-defined]
        await stub.Update(pb.UpdateRequest(object=kinds.pack(obj)))

    lat, elapsed = await run_concurrent(n, concurrency, update)
    report("(b) apiserver Get+Update", lat, elapsed)

    async def list_page(i: int) -> None:
        await stub.List(pb.ListRequest(resource="pods", namespace=ns, limit=50))

    lat, elapsed = await run_concurrent(max(n // 10, 20), concurrency, list_page)
    report("(b) apiserver List limit=50 (etcd)", lat, elapsed)
    return create_ops


async def bench_paced_writes(stub: apiserver_pb2_grpc.ApiServerStub, rate: float, seconds: float) -> None:
    lat: list[float] = []

    async def one(i: int) -> None:
        t = time.perf_counter()
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"paced-{i}", "kube-public"))))
        lat.append(time.perf_counter() - t)

    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    report(f"(b) Create paced at {rate:g}/s", lat, time.perf_counter() - start)


async def bench_watchers(
    target: str, stub: apiserver_pb2_grpc.ApiServerStub, watchers: int, writes: int
) -> None:
    channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, watchers // 100))]
    # Raw bytes, no decoding: the namespace starts empty, so a watcher's k-th event is write k. This keeps
    # the client's own CPU out of the measurement as far as possible.
    calls = [c.unary_stream("/skiff.apiserver.v1.ApiServer/Watch",
                            request_serializer=pb.WatchRequest.SerializeToString,
                            response_deserializer=None) for c in channels]  # fmt: skip
    started: list[float] = []
    delays: list[float] = []
    ready = 0
    all_ready = asyncio.Event()
    done = asyncio.Event()
    expected = watchers * writes

    async def watch(i: int) -> None:
        nonlocal ready
        call = calls[i % len(calls)](
            pb.WatchRequest(resource="pods", namespace="watch-bench", resource_version="0")
        )
        ready += 1
        if ready == watchers:
            all_ready.set()
        k = 0
        async for _raw in call:
            delays.append(time.perf_counter() - started[k])
            k += 1
            if len(delays) >= expected:
                done.set()

    ns = pb.CreateRequest(object=kinds.pack(_namespace("watch-bench")))
    await stub.Create(ns)
    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    await all_ready.wait()
    await asyncio.sleep(2.0)  # let every stream register on the server
    for i in range(writes):
        started.append(time.perf_counter())
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"w{i}", "watch-bench"))))
        await asyncio.sleep(0.2)
    try:
        await asyncio.wait_for(done.wait(), 60)
    except TimeoutError:
        print(f"  (c) only {len(delays)}/{expected} deliveries arrived")
    print(
        f"  (c) {watchers} watchers x {writes} writes: delivery p50 {pct(delays, 50) * 1000:.1f} ms"
        f"   p99 {pct(delays, 99) * 1000:.1f} ms   max {max(delays or [0]) * 1000:.1f} ms (n={len(delays)})"
    )
    for t in tasks:
        t.cancel()
    for c in channels:
        await c.close()


def _namespace(name: str):  # type: ignore[no-untyped-def]
    from skiff.api.core.v1 import namespace_pb2

    ns = namespace_pb2.Namespace()
    ns.metadata.name = name
    return ns


async def bench_big_list(stub: apiserver_pb2_grpc.ApiServerStub, count: int, concurrency: int) -> None:
    await stub.Create(pb.CreateRequest(object=kinds.pack(_namespace("list-bench"))))

    async def create(i: int) -> None:
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"l{i:05d}", "list-bench"))))

    _, elapsed = await run_concurrent(count, concurrency, create)
    print(f"  (d) created {count} pods in {elapsed:.1f} s")
    await asyncio.sleep(1.0)
    for rv, label in (("0", "cache"), ("", "etcd")):
        lat = []
        for _ in range(5):
            t = time.perf_counter()
            resp = await stub.List(
                pb.ListRequest(resource="pods", namespace="list-bench", resource_version=rv)
            )
            lat.append(time.perf_counter() - t)
        print(
            f"  (d) List {len(resp.items)} pods from {label:<5}  p50 {pct(lat, 50) * 1000:.0f} ms"
            f"   max {max(lat) * 1000:.0f} ms"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--watch-writes", type=int, default=20)
    ap.add_argument("--list-pods", type=int, default=10000)
    ap.add_argument("--sections", default="abcd", help="which parts to run, e.g. 'c' or 'abd'")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="skiff-apiserver-bench-"))
    etcd_port, api_port = free_port(), free_port()
    endpoint = f"127.0.0.1:{etcd_port}"
    procs = []
    try:
        procs.append(subprocess.Popen(
            [str(BIN / "etcd"), "--data-dir", str(tmp / "etcd"), "--listen-client-urls", f"http://{endpoint}",
             "--advertise-client-urls", f"http://{endpoint}", "--listen-peer-urls",
             f"http://127.0.0.1:{free_port()}", "--log-level", "error",
             "--quota-backend-bytes", str(4 * 1024**3)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        time.sleep(1.5)
        procs.append(subprocess.Popen(
            [str(BIN / "skiff-apiserver"), "--listen", f"127.0.0.1:{api_port}", "--etcd-endpoints", endpoint,
             "--log-level", "warning", "--max-inflight", "0", "--watch-queue-size", "10000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        asyncio.run(run(args, endpoint, f"127.0.0.1:{api_port}"))
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


async def run(args: argparse.Namespace, endpoint: str, target: str) -> None:
    channel = grpc.aio.insecure_channel(target)
    await asyncio.wait_for(channel.channel_ready(), 30)
    stub = apiserver_pb2_grpc.ApiServerStub(channel)
    await stub.ListResources(pb.ListResourcesRequest(), wait_for_ready=True, timeout=30)
    print(f"skiff-apiserver benchmark: ops={args.ops} concurrency={args.concurrency} cpus={os.cpu_count()}")
    if "a" in args.sections or "b" in args.sections:
        raw = await bench_raw_etcd(endpoint, args.ops, args.concurrency)
        api = await bench_apiserver(stub, args.ops, args.concurrency, "default")
        print(f"  ratio apiserver Create / raw etcd txn: {api / raw:.2f}")
        await bench_paced_writes(stub, 20.0, 5.0)
    if "c" in args.sections:
        await bench_watchers(target, stub, args.watchers, args.watch_writes)
    if "d" in args.sections:
        await bench_big_list(stub, args.list_pods, args.concurrency)
    await channel.close()


if __name__ == "__main__":
    main()
