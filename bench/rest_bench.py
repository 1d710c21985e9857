"""REST vs gRPC on the same apiserver, in the same run (printed numbers, not a test).

    uv run python bench/rest_bench.py                        # 2000 ops per verb, 10,000 pods for kubectl
    uv run python bench/rest_bench.py --ops 500 --big-list 2000   # quicker

The apiserver runs as its own process (`skiff-apiserver` with --secure-port) on its own etcd, with mutual
TLS on both ports (the admin certificate as the client, as in `skiff up`). The load comes from this
process on uvloop: gRPC through a grpc.aio channel, REST through one aiohttp session with as many
keep-alive connections as the concurrency. Each verb runs the same number of operations at the same
concurrency through both encodings, in 5 alternating rounds (gRPC, REST, gRPC, ...) so both meet the
same machine load:
  (a) Create  a pod (the same pod; JSON for REST, protobuf for gRPC)
  (b) Get     a pod by name
  (c) List    a namespace of 100 pods (from etcd: resourceVersion "")
  (d) --big-list pods (10,000), the whole list, one request and pages of 500 (limit + continue), in 3
      alternating rounds: gRPC, REST JSON, REST Table (what kubectl asks for); wall time and the CPU
      seconds of the apiserver and of etcd per whole list, which the machine's other load does not inflate
      the way it inflates wall time.
  (e) `kubectl get pods -A` (kubectl 1.33, server-side Table) with its default pages of 500 and with
      --chunk-size=0: time to the first line and to the last, best and median of 3, the apiserver's CPU
      per run, and from kubectl's own -v=6 log the time its requests took on the server and the time it
      waited in client-go's rate limiter (5 requests/s after a burst of 10, fixed in kubectl).
Client and server share the machine's cores, which inflates every latency a little, alike for both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import convert, kinds
from skiff_common.grpcutil import channel_credentials
from skiff_common.tls import ensure_cluster_pki

sys.path.insert(0, str(Path(__file__).parent))
from _api_common import BIN, cpu_seconds, free_port, make_pod, pct, report, run_concurrent, start_etcd, stop_all

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")


def kubeconfig(path: Path, url: str, tls: object) -> None:
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "b", "cluster": {"server": url, "certificate-authority": tls.ca_file}}],  # type: ignore[attr-defined]
                "users": [{"name": "b", "user": {"client-certificate": tls.cert_file, "client-key": tls.key_file}}],  # type: ignore[attr-defined]
                "contexts": [{"name": "b", "context": {"cluster": "b", "user": "b"}}],
                "current-context": "b",
            }
        )
    )


async def ensure_namespace(stub: apiserver_pb2_grpc.ApiServerStub, name: str) -> None:
    ns = kinds.lookup_resource("namespaces").message()
    ns.metadata.name = name  # type: ignore[attr-defined]
    try:
        await stub.Create(pb.CreateRequest(object=kinds.pack(ns)))
    except grpc.aio.AioRpcError as exc:
        if exc.code() != grpc.StatusCode.ALREADY_EXISTS:
            raise


SERVER_PID = 0
ETCD_PID = 0
ROUNDS = 5
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


async def compare(
    label: str, n: int, conc: int, grpc_op: object, rest_op: object, results: dict[str, tuple[float, ...]]
) -> None:
    """Both encodings, the same ops, in alternating rounds (gRPC, REST, gRPC, ...) so that both see the
    same machine: on a shared 2-core box the load of other work swings within seconds, and two long runs
    one after the other compared two different machines. Also the apiserver's own CPU per request (the
    client's is not in it)."""
    rounds = ROUNDS if n >= 20 * ROUNDS else 1
    per = n // rounds
    lat: dict[str, list[float]] = {"gRPC": [], "REST": []}
    elapsed = {"gRPC": 0.0, "REST": 0.0}
    cpu = {"gRPC": 0.0, "REST": 0.0}
    for r in range(rounds):
        for enc, op in (("gRPC", grpc_op), ("REST", rest_op)):
            before = cpu_seconds([SERVER_PID])
            got, took = await run_concurrent(per, conc, lambda i, op=op, r=r: op(r * per + i))  # type: ignore[misc,operator]
            cpu[enc] += cpu_seconds([SERVER_PID]) - before
            lat[enc] += got
            elapsed[enc] += took
    for enc in ("gRPC", "REST"):
        ops = report(f"{label} {enc}", lat[enc], elapsed[enc])
        done = len(lat[enc])
        print(f"  {'':<34} server CPU {cpu[enc] / done * 1000:6.2f} ms/request")
        results[f"{label} {enc}"] = (ops, pct(lat[enc], 50), pct(lat[enc], 99), cpu[enc] / done)
    g, r_ = results[f"{label} gRPC"], results[f"{label} REST"]
    print(
        f"  {label}: REST/gRPC  time per request {g[0] / r_[0]:.2f}x   p50 {r_[1] / g[1]:.2f}x"
        f"   p99 {r_[2] / g[2]:.2f}x   server CPU {r_[3] / g[3]:.2f}x   ({rounds} alternating rounds)"
    )


async def run(args: argparse.Namespace, target: str, url: str, tls: object, kube: Path) -> None:
    creds = channel_credentials(tls)  # type: ignore[arg-type]
    big = [("grpc.max_receive_message_length", 256 * 1024 * 1024)]  # 10,000 pods in one answer
    channel = grpc.aio.secure_channel(target, creds, options=big)
    await asyncio.wait_for(channel.channel_ready(), 120)  # a busy machine starts slowly
    stub = apiserver_pb2_grpc.ApiServerStub(channel)
    ctx = ssl.create_default_context(cafile=tls.ca_file)  # type: ignore[attr-defined]
    ctx.load_cert_chain(tls.cert_file, tls.key_file)  # type: ignore[attr-defined]
    session = aiohttp.ClientSession(url, connector=aiohttp.TCPConnector(ssl=ctx, limit=args.concurrency))
    n, conc = args.ops, args.concurrency
    print(f"REST vs gRPC: ops={n} concurrency={conc} cpus={os.cpu_count()}")
    for ns in ("bench-grpc", "bench-rest", "bench-list"):
        await ensure_namespace(stub, ns)
    body = convert.to_dict(make_pod("x", "bench-rest"))
    results: dict[str, tuple[float, ...]] = {}

    async def grpc_create(i: int) -> None:
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"p{i}", "bench-grpc"))))

    async def rest_create(i: int) -> None:
        doc = {**body, "metadata": {**body["metadata"], "name": f"p{i}"}}
        async with session.post("/api/v1/namespaces/bench-rest/pods", json=doc) as resp:
            await resp.read()
            assert resp.status == 201, resp.status

    async def grpc_get(i: int) -> None:
        try:
            await stub.Get(pb.GetRequest(resource="pods", namespace="bench-grpc", name=f"p{i}"))
        except grpc.aio.AioRpcError as exc:
            if exc.code() != grpc.StatusCode.NOT_FOUND:
                raise

    async def rest_get(i: int) -> None:
        async with session.get(f"/api/v1/namespaces/bench-rest/pods/p{i}") as resp:
            await resp.read()
            assert resp.status in (200, 404), resp.status

    # Warm up: every REST keep-alive connection's TLS handshake happens here, not in the measurements.
    await run_concurrent(conc * 2, conc, lambda i: rest_get(0))
    await run_concurrent(conc * 2, conc, lambda i: grpc_get(0))
    await compare("Create", n, conc, grpc_create, rest_create, results)
    await compare("Get", n, conc, grpc_get, rest_get, results)
    await asyncio.gather(*(grpc_create_in(stub, "bench-list", i) for i in range(100)))

    async def grpc_list(i: int) -> None:
        await stub.List(pb.ListRequest(resource="pods", namespace="bench-list"))

    async def rest_list(i: int) -> None:
        async with session.get("/api/v1/namespaces/bench-list/pods") as resp:
            await resp.read()
            assert resp.status == 200, resp.status

    await compare("List(100)", max(n // 5, 20), conc, grpc_list, rest_list, results)
    if args.big_list:  # the pods above count towards the total
        await big_list(stub, session, max(args.big_list - 2 * n - 100, 0), conc, kube)
    await session.close()
    await channel.close()


async def grpc_create_in(stub: apiserver_pb2_grpc.ApiServerStub, ns: str, i: int) -> None:
    await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"l{i}", ns))))


async def big_list(
    stub: apiserver_pb2_grpc.ApiServerStub, session: aiohttp.ClientSession, count: int, conc: int, kube: Path
) -> None:
    namespaces = [f"big-{i}" for i in range(10)]
    for ns in namespaces:
        await ensure_namespace(stub, ns)

    async def create(i: int) -> None:
        await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"b{i}", namespaces[i % 10]))))

    t0 = time.perf_counter()
    await run_concurrent(count, conc * 2, create)
    print(f"\n(d) created {count} more pods in {time.perf_counter() - t0:.1f} s; the whole list of pods:")
    await whole_lists(stub, session)
    print(f"\n(e) {KUBECTL.name}:")
    for flags in ([], ["--chunk-size=0"]):
        await time_kubectl(kube, flags)


async def grpc_list_all(stub: apiserver_pb2_grpc.ApiServerStub, limit: int) -> int:
    token, rows = "", 0
    while True:
        resp = await stub.List(pb.ListRequest(resource="pods", limit=limit, continue_token=token))
        rows, token = rows + len(resp.items), resp.metadata.continue_token
        if not token:
            return rows


async def rest_list_all(session: aiohttp.ClientSession, limit: int, accept: str) -> int:
    token, rows = "", 0
    while True:
        query = {"limit": str(limit)} if limit else {}
        if token:
            query["continue"] = token
        async with session.get("/api/v1/pods", params=query, headers={"Accept": accept}) as resp:
            assert resp.status == 200, resp.status
            body = json.loads(await resp.read())
        rows, token = rows + len(body.get("items") or body.get("rows") or []), body["metadata"].get("continue", "")
        if not token:
            return rows


async def whole_lists(stub: apiserver_pb2_grpc.ApiServerStub, session: aiohttp.ClientSession) -> None:
    """Every encoding, one request and pages of 500, in alternating rounds; medians of 3."""
    variants = {
        "gRPC protobuf": lambda limit: grpc_list_all(stub, limit),
        "REST JSON": lambda limit: rest_list_all(session, limit, "application/json"),
        "REST Table (kubectl's)": lambda limit: rest_list_all(session, limit, TABLE),
    }
    got: dict[tuple[str, int], list[tuple[float, float, float]]] = {}
    for _ in range(3):
        for name, op in variants.items():
            for limit in (0, 500):
                cpu0, etcd0, t0 = cpu_seconds([SERVER_PID]), cpu_seconds([ETCD_PID]), time.perf_counter()
                rows = await op(limit)
                took = time.perf_counter() - t0
                got.setdefault((name, limit), []).append(
                    (took, cpu_seconds([SERVER_PID]) - cpu0, cpu_seconds([ETCD_PID]) - etcd0)
                )
    print(f"  {'':<24} {'':<18} {'wall':>8} {'apiserver CPU':>14} {'etcd CPU':>9}   ({rows} pods, medians of 3)")
    for (name, limit), runs in got.items():
        wall, cpu, etcd = (statistics.median(r[i] for r in runs) for i in range(3))
        how = "one request" if not limit else f"pages of {limit}"
        print(f"  {name:<24} {how:<18} {wall:7.2f}s {cpu:13.2f}s {etcd:8.2f}s")


_WAITED = re.compile(r'"Waited before sending request" delay="([0-9.]+)(ms|s)"')
_ANSWERED = re.compile(r'"Response" verb="GET" url="[^"]*/api/v1/pods[^"]*".* milliseconds=(\d+)')


async def time_kubectl(kube: Path, flags: list[str]) -> None:
    """kubectl get pods -A three times: seconds to its first output line and to its last, the apiserver's
    CPU, and from kubectl's -v=6 log the server's answer times and client-go's throttling waits."""
    firsts, totals, cpus, served, waited, lines, pages = [], [], [], [], [], 0, 0
    for _ in range(3):
        cpu0 = cpu_seconds([SERVER_PID])
        start = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            str(KUBECTL), "get", "pods", "-A", "-v=6", *flags, env={**os.environ, "KUBECONFIG": str(kube)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        log = asyncio.ensure_future(proc.stderr.read())
        first = None
        lines = 0
        async for _line in proc.stdout:
            if first is None:
                first = time.perf_counter() - start
            lines += 1
        await proc.wait()
        totals.append(time.perf_counter() - start)
        firsts.append(first or float("nan"))
        cpus.append(cpu_seconds([SERVER_PID]) - cpu0)
        text = (await log).decode(errors="replace")
        answers = [int(ms) / 1000 for ms in _ANSWERED.findall(text)]
        pages = len(answers)
        served.append(sum(answers))
        waited.append(sum(float(v) / (1000 if unit == "ms" else 1) for v, unit in _WAITED.findall(text)))
    firsts.sort()
    totals.sort()
    print(
        f"  {' '.join(['kubectl get pods -A', *flags]):<36} {lines - 1} rows: first line best {firsts[0]:.2f} s,"
        f" median {firsts[1]:.2f} s; last line best {totals[0]:.2f} s, median {totals[1]:.2f} s\n"
        f"  {'':<36} {pages} list requests answered in {statistics.median(served):.2f} s in all (kubectl's log),"
        f" {statistics.median(waited):.2f} s waited in client-go's rate limiter;"
        f" apiserver CPU {statistics.median(cpus):.2f} s per run (medians)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--big-list", type=int, default=10000, help="pods for kubectl get pods -A (0: skip)")
    args = ap.parse_args()
    if not KUBECTL.exists():
        print(f"(d) skipped: {KUBECTL} is not installed")
        args.big_list = 0
    tmp = Path(tempfile.mkdtemp(prefix="skiff-rest-bench-"))
    etcd_port, api_port, rest_port = free_port(), free_port(), free_port()
    endpoint = f"127.0.0.1:{etcd_port}"
    pki = ensure_cluster_pki(tmp / "pki", components=["apiserver", "admin"])
    server = pki["apiserver"]
    kube = tmp / "kubeconfig"
    url = f"https://127.0.0.1:{rest_port}"
    kubeconfig(kube, url, pki["admin"])
    procs = []
    try:
        procs.append(start_etcd(tmp / "etcd", endpoint))
        procs.append(subprocess.Popen(
            [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",  # no SA controller
             "--listen", f"127.0.0.1:{api_port}", "--etcd-endpoints", endpoint,
             "--secure-port", str(rest_port), "--tls-cert-file", server.cert_file, "--tls-key-file",
             server.key_file, "--client-ca-file", server.ca_file,
             "--log-level", "warning", "--max-inflight", "0", "--watch-queue-size", "10000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        import uvloop

        global SERVER_PID, ETCD_PID
        SERVER_PID, ETCD_PID = procs[1].pid, procs[0].pid
        uvloop.run(run(args, f"127.0.0.1:{api_port}", url, pki["admin"], kube))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
