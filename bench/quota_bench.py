"""What ResourceQuota admission costs: pod Create throughput in a namespace without a quota vs one with a
quota on pods, requests.cpu and requests.memory (every create then also compare-and-swaps the quota's
status.used, one etcd key all concurrent creates contend for). Printed numbers, not a test.

    uv run python bench/quota_bench.py                  # 2,000 creates per round, concurrency 20
    uv run python bench/quota_bench.py --creates 500

One `skiff-apiserver` process on an etcd of its own (127.0.0.1, temporary folder); rounds alternate
free/quota/free/quota so drift on a shared machine hits both. The quota's status is written once as the
resourcequota controller would (no controller runs: none is needed for admission to charge).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import grpc
from skiff.api.core.v1 import namespace_pb2, quota_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import kinds

sys.path.insert(0, str(Path(__file__).parent))
from _api_common import BIN, free_port, make_pod, report, run_concurrent, start_etcd, stop_all

HARD = {"pods": "1000000", "requests.cpu": "1000000", "requests.memory": "1000Ti"}


async def setup(stub: apiserver_pb2_grpc.ApiServerStub) -> None:
    for name in ("free", "quota"):
        ns = namespace_pb2.Namespace()
        ns.metadata.name = name
        await stub.Create(pb.CreateRequest(object=kinds.pack(ns)))
    q = quota_pb2.ResourceQuota()
    q.metadata.name, q.metadata.namespace = "compute", "quota"
    for k, v in HARD.items():
        q.spec.hard[k].value = v
    created = kinds.unpack((await stub.Create(pb.CreateRequest(object=kinds.pack(q)))).object)
    for k, v in HARD.items():
        created.status.hard[k].value = v
        created.status.used[k].value = "0"
    await stub.UpdateStatus(pb.UpdateStatusRequest(object=kinds.pack(created)))
    await asyncio.sleep(1.0)  # the watch cache admission reads has the status


async def run(target: str, creates: int, concurrency: int, rounds: int) -> None:
    channel = grpc.aio.insecure_channel(target)
    await asyncio.wait_for(channel.channel_ready(), 30)
    stub = apiserver_pb2_grpc.ApiServerStub(channel)
    await setup(stub)
    print(f"quota benchmark: {creates} pod creates per round, concurrency {concurrency}")
    for r in range(rounds):
        for ns in ("free", "quota"):

            async def op(i: int, ns: str = ns, r: int = r) -> None:
                await stub.Create(pb.CreateRequest(object=kinds.pack(make_pod(f"p{r}-{i}", ns))))

            latencies, elapsed = await run_concurrent(creates, concurrency, op)
            report(f"round {r + 1}: Create in {ns!r}", latencies, elapsed)
    q = kinds.unpack(
        (await stub.Get(pb.GetRequest(resource="resourcequotas", namespace="quota", name="compute"))).object
    )
    print(f"  quota used after the run: {dict((k, v.value) for k, v in q.status.used.items())}")
    await channel.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--creates", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-quota-bench-"))
    endpoint, api_port = f"127.0.0.1:{free_port()}", free_port()
    procs = []
    try:
        procs.append(start_etcd(tmp / "etcd", endpoint))
        procs.append(subprocess.Popen(
            [str(BIN / "skiff-apiserver"), "--disable-admission-plugins", "ServiceAccount",
             "--listen", f"127.0.0.1:{api_port}", "--etcd-endpoints", endpoint, "--log-level", "warning",
             "--max-inflight", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        asyncio.run(run(f"127.0.0.1:{api_port}", args.creates, args.concurrency, args.rounds))
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
