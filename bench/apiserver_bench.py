"""Apiserver benchmark (printed numbers, not a test).

    uv run python bench/apiserver_bench.py                      # own etcd + own apiserver process
    uv run python bench/apiserver_bench.py --ops 500 --watchers 200 --list-pods 2000   # quicker

In one run, on the same etcd:
  (a) raw etcd transactions (create txns) through the apiserver's own etcd client (aetcd stubs);
  (b) Create, Get, Update and List through the apiserver from concurrent clients, and the ratio of
      create throughput to (a); plus paced mutating latency at 20 writes/s;
  (c) N watchers on pods: latency from the start of a write to its delivery to every watcher;
  (d) List of M pods from the watch cache (resourceVersion "0") and from etcd ("");
  (f) the floor: Create through minimal servers that only decode the object and make one etcd
      transaction (bench/apiserver_floor.py), per grpc variant, driven by the same load worker.
The apiserver runs as its own process (`skiff-apiserver`), so client work does not share its event loop;
both still share the machine's cores, which inflates every latency a little.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import kinds
from skiff_apiserver.storage.etcd import EtcdClient

sys.path.insert(0, str(Path(__file__).parent))
from _api_common import (
    BIN,
    cpu_seconds,
    free_port,
    make_pod,
    pct,
    report,
    run_concurrent,
    start_etcd,
    stop_all,
)


def run_client(coro: Coroutine[Any, Any, None], loop: str) -> None:
    """Run a load-generator process's event loop: uvloop (default) or asyncio, the same for every
    load process of a run, so (a) and (b) get the same client and the receive cost of (c)'s
    watchers (part of the measured delivery time) is as small as the apparatus can make it."""
    if loop == "uvloop":
        import uvloop

        uvloop.run(coro)
    else:
        asyncio.run(coro)


async def load_worker(kind: str, target: str, n: int, concurrency: int, tag: str) -> None:
    """Child process of (a)/(b): `n` creates at `concurrency`, raw etcd txns (kind "etcd") or apiserver
    Creates (kind "api"), with the SAME loop (run_concurrent) and the same pod; prints STARTED, waits for
    a line on stdin (so every child starts together), then one JSON line [start, end, latencies, own CPU seconds]."""
    value = make_pod("raw").SerializeToString()
    if kind == "etcd":
        client = EtcdClient([target])
        await client.current_revision()  # connected before the clock starts

        async def op(i: int) -> None:
            await client.create(f"/bench-raw/{tag}/{i}".encode(), value)

    else:
        channel = grpc.aio.insecure_channel(target)
        stub = apiserver_pb2_grpc.ApiServerStub(channel)
        await asyncio.wait_for(channel.channel_ready(), 30)  # the floor servers serve Create only

        async def op(i: int) -> None:
            await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"p{tag}-{i}", "default"))))

    print("STARTED", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start, cpu = time.time(), time.process_time()
    lat, _ = await run_concurrent(n, concurrency, op)
    print(json.dumps([start, time.time(), lat, time.process_time() - cpu]), flush=True)


async def bench_creates(
    label: str, kind: str, target: str, args: argparse.Namespace, procs: dict[str, int]
) -> tuple[float, float]:
    """(a) or (b) Create: `args.client_procs` load processes share `args.ops` and `args.concurrency`.
    Returns (ops/s, CPU ms per op summed over the clients, the apiserver and etcd)."""
    n_procs = max(1, args.client_procs)
    tag = f"{kind}{time.monotonic_ns()}"
    children = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client-loop", args.client_loop, "--load-worker", kind, target,
        str(args.ops // n_procs),
        str(max(1, args.concurrency // n_procs)), f"{tag}-{i}",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 26)
        for i in range(n_procs)]  # fmt: skip
    try:
        for child in children:
            assert child.stdout is not None
            if (line := (await child.stdout.readline()).decode().strip()) != "STARTED":
                raise RuntimeError(f"load worker said {line!r}")
        cpu0 = {name: cpu_seconds([pid]) for name, pid in procs.items()}
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
            await child.stdin.drain()
        results = []
        for child in children:
            assert child.stdout is not None
            results.append(json.loads(await child.stdout.readline()))
            await child.wait()
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    lat = [x for r in results for x in r[2]]
    elapsed = max(r[1] for r in results) - min(r[0] for r in results)
    ops = report(label, lat, elapsed)
    per_op = {"clients": sum(r[3] for r in results) / len(lat) * 1000}
    per_op |= {name: (cpu_seconds([pid]) - cpu0[name]) / len(lat) * 1000 for name, pid in procs.items()}
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in per_op.items())
    print(f"      CPU ms per op: {cpu}   ({n_procs} client process(es), concurrency {args.concurrency})")
    return ops, sum(per_op.values())


async def bench_apiserver(stub: apiserver_pb2_grpc.ApiServerStub, n: int, concurrency: int, ns: str) -> None:
    """Get, Get+Update and List in this process, on the pods (b) Create made ("p{i}", made again here
    under the plain names so the reads find them)."""

    async def create(i: int) -> None:
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"p{i}", ns))))

    await run_concurrent(n, concurrency, create)

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


async def watch_worker(target: str, watchers: int, writes: int) -> None:
    """Child process: `watchers` raw-bytes pod watches; prints STARTED, WARM, then one JSON line of
    [event index, monotonic receive time] pairs. Raw bytes keep decoding out of the measurement; the
    namespace starts empty, so a watcher's k-th event after the warm-up is write k."""
    channels = [grpc.aio.insecure_channel(target) for _ in range(max(1, watchers // 100))]
    calls = [c.unary_stream("/skiff.apiserver.v1.ApiServer/Watch",
                            request_serializer=pb.WatchRequest.SerializeToString,
                            response_deserializer=None) for c in channels]  # fmt: skip
    received: list[tuple[int, float]] = []
    warm = 0
    all_warm, done = asyncio.Event(), asyncio.Event()

    async def watch(i: int) -> None:
        nonlocal warm
        call = calls[i % len(calls)](pb.WatchRequest(resource="pods", namespace="watch-bench", resource_version="0"))
        k = -1
        async for _raw in call:
            if k < 0:
                warm += 1
                if warm == watchers:
                    all_warm.set()
            else:
                received.append((k, time.monotonic()))
                if len(received) >= watchers * writes:
                    done.set()
            k += 1

    tasks = [asyncio.create_task(watch(i)) for i in range(watchers)]
    print("STARTED", flush=True)
    await all_warm.wait()
    print("WARM", flush=True)
    try:
        await asyncio.wait_for(done.wait(), 120)
    except TimeoutError:
        pass
    print(json.dumps(received), flush=True)
    for t in tasks:
        t.cancel()


async def bench_watchers(
    target: str,
    stub: apiserver_pb2_grpc.ApiServerStub,
    watchers: int,
    writes: int,
    procs: int,
    client_loop: str,
    api_pid: int,
) -> None:
    """Watchers live in `procs` separate processes (like real clients), so the load generator's own
    receive work is spread out and the number mostly reflects the apiserver's fan-out."""
    await stub.Create(pb.CreateRequest(object=kinds.pack(_namespace("watch-bench"))))
    per = [watchers // procs + (1 if i < watchers % procs else 0) for i in range(procs)]
    children = [await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client-loop", client_loop, "--watch-worker", target, str(n), str(writes),
        stdout=asyncio.subprocess.PIPE, limit=1 << 26) for n in per]  # fmt: skip
    try:
        await _drive_watchers(stub, children, watchers, writes, procs, api_pid)
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()


async def _drive_watchers(stub: apiserver_pb2_grpc.ApiServerStub, children: list[asyncio.subprocess.Process],
                          watchers: int, writes: int, procs: int, api_pid: int) -> None:  # fmt: skip

    async def expect(child: asyncio.subprocess.Process, word: str) -> None:
        assert child.stdout is not None
        line = (await child.stdout.readline()).decode().strip()
        if line != word:
            raise RuntimeError(f"watch worker said {line!r}, expected {word}")

    await asyncio.gather(*(expect(c, "STARTED") for c in children))
    await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod("warmup", "watch-bench"))))
    await asyncio.wait_for(asyncio.gather(*(expect(c, "WARM") for c in children)), 120)
    started: list[float] = []
    cpu0 = cpu_seconds([api_pid])
    for i in range(writes):
        started.append(time.monotonic())
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"w{i}", "watch-bench"))))
        await asyncio.sleep(0.2)
    delays: list[float] = []
    for child in children:
        assert child.stdout is not None
        line = await asyncio.wait_for(child.stdout.readline(), 180)
        delays += [t - started[k] for k, t in json.loads(line)]
        await child.wait()
    # The apiserver's CPU per delivered event (the 20 writes included): unlike the latency, this hardly
    # depends on what else the shared machine is doing at the time.
    cpu_us = (cpu_seconds([api_pid]) - cpu0) / max(1, len(delays)) * 1e6
    expected = watchers * writes
    missing = f", {expected - len(delays)} never arrived" if len(delays) < expected else ""
    print(
        f"  (c) {watchers} watchers ({procs} client processes) x {writes} writes: delivery"
        f" p50 {pct(delays, 50) * 1000:.1f} ms   p99 {pct(delays, 99) * 1000:.1f} ms"
        f"   max {max(delays or [0]) * 1000:.1f} ms (n={len(delays)}{missing});"
        f" apiserver CPU {cpu_us:.0f} us per delivery"
    )


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
            resp = await stub.List(pb.ListRequest(resource="pods", namespace="list-bench", resource_version=rv))
            lat.append(time.perf_counter() - t)
        print(
            f"  (d) List {len(resp.items)} pods from {label:<5}  p50 {pct(lat, 50) * 1000:.0f} ms"
            f"   max {max(lat) * 1000:.0f} ms"
        )


async def bench_floor(
    mode: str, endpoint: str, args: argparse.Namespace, etcd_pid: int, raw: float, raw_cpu: float
) -> None:
    """(f) One floor server (bench/apiserver_floor.py MODE) as its own process, Create-loaded like (b)."""
    port = free_port()
    floor = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("apiserver_floor.py")), mode, f"127.0.0.1:{port}", endpoint
    )
    try:
        ops, cpu = await bench_creates(
            f"(f) floor Create [{mode}]", "api", f"127.0.0.1:{port}", args, {"floor": floor.pid, "etcd": etcd_pid}
        )
        print(f"  ratio floor [{mode}] / raw etcd txn: {ops / raw:.2f}   (total CPU ratio {raw_cpu / cpu:.2f})")
    finally:
        floor.terminate()
        await floor.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--watchers", type=int, default=1000)
    ap.add_argument("--watch-writes", type=int, default=20)
    ap.add_argument("--list-pods", type=int, default=10000)
    ap.add_argument("--watch-procs", type=int, default=1, help="client processes holding the watchers")
    ap.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="load-generator processes for (a) and (b) Create (the same number for both)",
    )
    ap.add_argument("--workers", type=int, default=1, help="skiff-apiserver --workers")
    ap.add_argument("--event-loop", default="", help="skiff-apiserver --event-loop (default: its own)")
    ap.add_argument(
        "--client-loop",
        default="uvloop",
        choices=["uvloop", "asyncio"],
        help="event loop of every load-generator process (the same for all sections)",
    )
    ap.add_argument("--load-worker", nargs=5, help=argparse.SUPPRESS)
    ap.add_argument("--watch-worker", nargs=3, metavar=("TARGET", "N", "WRITES"), help=argparse.SUPPRESS)
    ap.add_argument("--sections", default="abcd", help="which parts to run, e.g. 'c' or 'abd'; 'f': floor")
    ap.add_argument(
        "--floor-modes", default="aio,aio-sync,sync", help="section f: bench/apiserver_floor.py modes, comma-separated"
    )
    args = ap.parse_args()
    if args.load_worker:
        kind, target, n, conc, tag = args.load_worker
        run_client(load_worker(kind, target, int(n), int(conc), tag), args.client_loop)
        return
    if args.watch_worker:
        target, n, writes = args.watch_worker
        run_client(watch_worker(target, int(n), int(writes)), args.client_loop)
        return

    tmp = Path(tempfile.mkdtemp(prefix="skiff-apiserver-bench-"))
    etcd_port, api_port = free_port(), free_port()
    endpoint = f"127.0.0.1:{etcd_port}"
    procs = []
    try:
        procs.append(start_etcd(tmp / "etcd", endpoint))
        procs.append(subprocess.Popen(
            [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",  # no SA controller
             "--listen", f"127.0.0.1:{api_port}", "--etcd-endpoints", endpoint,
             "--log-level", "warning", "--max-inflight", "0", "--watch-queue-size", "10000",
             *(["--workers", str(args.workers)] if args.workers != 1 else []),
             *(["--event-loop", args.event_loop] if args.event_loop else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        pids = {"apiserver": procs[1].pid, "etcd": procs[0].pid}
        run_client(run(args, endpoint, f"127.0.0.1:{api_port}", pids), args.client_loop)
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


async def run(args: argparse.Namespace, endpoint: str, target: str, pids: dict[str, int]) -> None:
    channel = grpc.aio.insecure_channel(target)
    await asyncio.wait_for(channel.channel_ready(), 30)
    stub = apiserver_pb2_grpc.ApiServerStub(channel)
    await stub.ListResources(pb.ListResourcesRequest(), wait_for_ready=True, timeout=30)
    print(
        f"skiff-apiserver benchmark: ops={args.ops} concurrency={args.concurrency} cpus={os.cpu_count()}"
        f" client-procs={args.client_procs} apiserver workers={args.workers} loop={args.event_loop or 'default'}"
        f" client-loop={args.client_loop}"
    )
    if "a" in args.sections or "b" in args.sections or "f" in args.sections:
        raw, raw_cpu = await bench_creates("(a) raw etcd create txn", "etcd", endpoint, args, pids)
    if "f" in args.sections:
        for mode in args.floor_modes.split(","):
            await bench_floor(mode, endpoint, args, pids["etcd"], raw, raw_cpu)
    if "a" in args.sections or "b" in args.sections:
        api, api_cpu = await bench_creates("(b) apiserver Create", "api", target, args, pids)
        print(f"  ratio apiserver Create / raw etcd txn: {api / raw:.2f}")
        # On a machine where every process is CPU-bound (this one), throughput is inversely proportional
        # to the total CPU an operation costs: this is the ratio the measured costs allow, noise aside.
        print(f"  ratio of total CPU per op (raw {raw_cpu:.2f} ms / Create {api_cpu:.2f} ms): {raw_cpu / api_cpu:.2f}")
        await bench_apiserver(stub, args.ops, args.concurrency, "default")
        await bench_paced_writes(stub, 20.0, 5.0)
    if "c" in args.sections:
        await bench_watchers(
            target,
            stub,
            args.watchers,
            args.watch_writes,
            max(1, args.watch_procs),
            args.client_loop,
            pids["apiserver"],
        )
    if "d" in args.sections:
        await bench_big_list(stub, args.list_pods, args.concurrency)
    await channel.close()


if __name__ == "__main__":
    main()
