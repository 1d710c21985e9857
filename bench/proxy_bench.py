"""skiff-proxy benchmark (printed numbers, not a test). Needs root (a network namespace) and nft.

    uv run python bench/proxy_bench.py                       # 1,000 Services x 10 endpoints, 100 changes
    uv run python bench/proxy_bench.py --services 200 --changes 20      # quicker

Its own etcd and skiff-apiserver processes; the proxy runs in this process (ProxyApp, the same code as
`skiff-proxy`) and programs a network namespace made for the run, so the host's ruleset is never
touched. Measured:
  (a) full sync: render the whole table from the informer caches + one `nft -f` (or iptables-restore)
      transaction rebuilding it, several forced resyncs (what runs at start, after a refused apply and
      hourly; the syncs of (b) send only the delta);
  (b) network programming latency: from just before an EndpointSlice update is sent to the apiserver
      until the tool has returned with a ruleset that DNATs to the new endpoint, one change at a time;
  (c) added latency of a connection through a ClusterIP vs straight to the pod IP, with all the
      Services above in the table: a server and a client namespace on a bridge in the run's namespace,
      connect + 1-byte request/response + close, the two targets interleaved.
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
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from _common import percentile as pct
from _common import start_control_plane, stop_all
from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_client import ApiClient
from skiff_proxy.app import ProxyApp
from skiff_proxy.config import ProxyConfig


def ms(v: float) -> str:
    return f"{v * 1000:.1f} ms"


def endpoint_ip(i: int, j: int) -> str:
    n = i * 10 + j
    return f"10.244.{n // 250}.{n % 250 + 2}"


async def gather_limited(coros: list, limit: int = 32) -> list:  # type: ignore[type-arg]
    sem = asyncio.Semaphore(limit)

    async def one(c):  # type: ignore[no-untyped-def]
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def populate(api: ApiClient, n: int, per: int) -> list[es.EndpointSlice]:
    def svc(i: int) -> service_pb2.Service:
        s = service_pb2.Service(api_version="v1", kind="Service")
        s.metadata.name, s.metadata.namespace = f"svc-{i:05d}", "default"
        s.spec.ports.add(name="http", port=80, protocol="TCP")
        return s

    def slice_(i: int) -> es.EndpointSlice:
        s = es.EndpointSlice(api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type="IPv4")
        s.metadata.name, s.metadata.namespace = f"svc-{i:05d}-1", "default"
        s.metadata.labels["kubernetes.io/service-name"] = f"svc-{i:05d}"
        s.ports.add(name="http", protocol="TCP", port=8080)
        for j in range(per):
            s.endpoints.add(addresses=[endpoint_ip(i, j)]).conditions.ready = True
        return s

    await gather_limited([api.create(svc(i)) for i in range(n)])
    return await gather_limited([api.create(slice_(i)) for i in range(n)])


async def run(args: argparse.Namespace, target: str, netns: str) -> None:
    api = ApiClient.connect(target, tls=None, wait_for_ready=True)
    t = time.perf_counter()
    slices = await populate(api, args.services, args.endpoints)
    print(f"populated {args.services} Services x {args.endpoints} endpoints in {time.perf_counter() - t:.1f} s")

    waiting: dict[str, asyncio.Event] = {}
    seen_at: dict[str, float] = {}

    def on_applied(text: str, _wall: float) -> None:
        now = time.perf_counter()
        for ip, ev in list(waiting.items()):
            if f"dnat to {ip}:" in text or f"--to-destination {ip}:" in text:
                seen_at[ip] = now
                ev.set()
                del waiting[ip]

    cfg = ProxyConfig(
        cluster_cidr="10.240.0.0/12",
        service_cidr="10.96.0.0/12",
        healthz_address="",
        proxy_mode=args.proxy_mode,
        min_sync_period=args.min_sync_period,
        sync_period=3600,
    )
    app = ProxyApp(api, cfg, prefix=["ip", "netns", "exec", netns], on_applied=on_applied)
    t = time.perf_counter()
    await app.start()
    print(f"proxy start (informers synced + first full sync): {ms(time.perf_counter() - t)}")
    text = app.render().full()
    chains = text.count("chain endpoint-") or sum(
        1 for line in text.splitlines() if line.startswith(":") and "-SEP-" in line
    )
    print(f"ruleset: {text.count(chr(10))} lines, {len(text) / 1e6:.2f} MB, {chains} endpoint chains")

    renders, fulls = [], []
    for _ in range(args.full_syncs):
        t = time.perf_counter()
        app.render()
        renders.append(time.perf_counter() - t)
        t = time.perf_counter()
        await app.syncer.sync(periodic=True)
        fulls.append(time.perf_counter() - t)
    print(
        f"(a) full sync ({args.full_syncs} runs): p50 {ms(pct(fulls, 50))}  max {ms(max(fulls))}"
        f"   of which render p50 {ms(pct(renders, 50))}"
    )

    latencies = []
    for k in range(args.changes):
        s = slices[(k * 7) % len(slices)]
        new_ip = f"10.245.{k // 250}.{k % 250 + 2}"
        s.endpoints[0].addresses[0] = new_ip
        ev = asyncio.Event()
        waiting[new_ip] = ev
        t = time.perf_counter()
        slices[(k * 7) % len(slices)] = await api.update(s)
        await asyncio.wait_for(ev.wait(), 60)
        latencies.append(seen_at[new_ip] - t)
    print(
        f"(b) EndpointSlice write -> rule in kernel ({args.changes} changes, min-sync-period"
        f" {args.min_sync_period}s): p50 {ms(pct(latencies, 50))}  p99 {ms(pct(latencies, 99))}"
        f"  max {ms(max(latencies))}"
    )

    async def rule_for(ip: str) -> None:
        ev = asyncio.Event()
        waiting[ip] = ev
        await asyncio.wait_for(ev.wait(), 600)

    if args.latency_requests:
        await bench_latency(api, netns, args.latency_requests, rule_for)
    await app.stop()
    await app.cleanup()
    await api.close()


SERVER = """
import socket, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8080)); srv.listen(128); print("ready", flush=True)
def serve(c):
    with c:
        while (b := c.recv(1)):
            c.sendall(b)
while True:
    c, _ = srv.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

CLIENT = """
import json, socket, sys, time
targets, n = sys.argv[1].split(","), int(sys.argv[2])
out = {t: [] for t in targets}
for i in range(n):
    for t in targets:
        t0 = time.perf_counter()
        host, port = t.split(":")
        with socket.create_connection((host, int(port))) as s:
            s.sendall(b"x"); s.recv(1)
        out[t].append(time.perf_counter() - t0)
print(json.dumps(out))
"""


def make_latency_lab(node: str) -> tuple[list[str], subprocess.Popen[str]]:
    """A bridge in the run's namespace with a server (10.250.0.2, echo on 8080) and a client (.3)."""
    ex = ["ip", "netns", "exec", node]
    names = [f"{node}-srv", f"{node}-cli"]
    node_setup = [
        ["ip", "link", "add", "br0", "type", "bridge"],
        ["ip", "addr", "add", "10.250.0.1/24", "dev", "br0"],
        ["ip", "link", "set", "br0", "up"],
        ["ip", "link", "set", "lo", "up"],
        ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
    ]
    for argv in node_setup:
        subprocess.run([*ex, *argv], check=True, capture_output=True)
    for i, (ns, ip) in enumerate(zip(names, ("10.250.0.2", "10.250.0.3"), strict=True)):
        subprocess.run(["ip", "netns", "add", ns], check=True)
        host_end = f"h{i}"
        for argv in (
            ["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", ns],
            ["ip", "link", "set", host_end, "master", "br0"],
            ["ip", "link", "set", host_end, "up"],
        ):
            subprocess.run([*ex, *argv], check=True)
        for argv in (
            ["ip", "link", "set", "lo", "up"],
            ["ip", "addr", "add", f"{ip}/24", "dev", "eth0"],
            ["ip", "link", "set", "eth0", "up"],
            ["ip", "route", "add", "default", "via", "10.250.0.1"],
        ):
            subprocess.run(["ip", "netns", "exec", ns, *argv], check=True)
    server = subprocess.Popen(
        ["ip", "netns", "exec", names[0], sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return names, server


def remove_latency_lab(names: list[str], server: subprocess.Popen[str] | None) -> None:
    if server is not None:
        server.kill()
        server.wait()
    for ns in names:
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


async def bench_latency(
    api: ApiClient, node: str, n: int, rule_for: Callable[[str], Coroutine[Any, Any, None]]
) -> None:
    names, server = await asyncio.to_thread(make_latency_lab, node)
    try:
        svc = service_pb2.Service(api_version="v1", kind="Service")
        svc.metadata.name, svc.metadata.namespace = "latency", "default"
        svc.spec.ports.add(name="http", port=80, protocol="TCP")
        ip = (await api.create(svc)).spec.cluster_ip
        s = es.EndpointSlice(api_version="discovery.k8s.io/v1", kind="EndpointSlice", address_type="IPv4")
        s.metadata.name, s.metadata.namespace = "latency-1", "default"
        s.metadata.labels["kubernetes.io/service-name"] = "latency"
        s.ports.add(name="http", protocol="TCP", port=8080)
        s.endpoints.add(addresses=["10.250.0.2"]).conditions.ready = True
        programmed = asyncio.create_task(rule_for("10.250.0.2"))
        await api.create(s)
        await programmed  # the proxy has put the rule in the kernel
        argv = ["ip", "netns", "exec", names[1], sys.executable, "-c", CLIENT, f"{ip}:80,10.250.0.2:8080", str(n)]
        out = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, check=True)
        res = json.loads(out.stdout)
        via, direct = res[f"{ip}:80"], res["10.250.0.2:8080"]
        print(
            f"(c) connect+request+close, {n} each: ClusterIP p50 {pct(via, 50) * 1e6:.0f} us, pod IP p50"
            f" {pct(direct, 50) * 1e6:.0f} us, added {(pct(via, 50) - pct(direct, 50)) * 1e6:.0f} us"
            f" (p90 added {(pct(via, 90) - pct(direct, 90)) * 1e6:.0f} us)"
        )
    finally:
        await asyncio.to_thread(remove_latency_lab, names, server)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--endpoints", type=int, default=10)
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--full-syncs", type=int, default=5)
    ap.add_argument("--min-sync-period", type=float, default=0.1)
    ap.add_argument("--proxy-mode", default="nftables", choices=["nftables", "iptables"])
    ap.add_argument("--latency-requests", type=int, default=2000, help="(c); 0 skips it")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("nft"):
        sys.exit("needs root and nft")
    tmp = Path(tempfile.mkdtemp(prefix="skiff-proxy-bench-"))
    netns = f"skiff-proxy-bench-{uuid.uuid4().hex[:6]}"
    procs: list[subprocess.Popen[bytes]] = []
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        target = start_control_plane(tmp, procs)
        tool = "nft --version" if args.proxy_mode == "nftables" else "iptables --version"
        print(f"skiff-proxy benchmark ({args.proxy_mode}): cpus={os.cpu_count()} {subprocess.getoutput(tool)}")
        asyncio.run(run(args, target, netns))
    finally:
        stop_all(procs)
        subprocess.run(["ip", "netns", "del", netns], check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
