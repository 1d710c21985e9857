"""How large a hollow cluster holds: real etcd, apiserver, controller-manager and scheduler processes,
plus one bench/hollow process playing N kubelets (Leases every 10 s, pods' lifecycle).

    uv run python bench/hollow_scale.py --nodes 1000 --pods 30000 --batch 1000

Pods are created in batches (pause pods, 10m cpu / 20Mi each, so capacity never limits); after each
batch the bench waits until every pod is Running, then prints what each component had to do: the
seconds the batch took, CPU seconds per process, the hollow nodes' worst Lease renewal lag (a lag past
the node monitor grace period, 40 s, would make the node lifecycle controller mark nodes NotReady) and
how many nodes are NotReady/tainted. It stops at the pod target, at --limit seconds, or when a batch
does not finish within --batch-timeout (the component that ran out first is then in the last lines).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scheduler_bench import BIN, Cluster, free_port
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient
from skiff_common import errors


def pause_pod(name: str) -> pod_pb2.Pod:
    p = pod_pb2.Pod(api_version="v1", kind="Pod", metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    c = p.spec.containers.add(name="pause", image="registry.k8s.io/pause:3.9")
    c.resources.requests["cpu"].value = "10m"
    c.resources.requests["memory"].value = "20Mi"
    p.spec.termination_grace_period_seconds = 0
    return p


async def count_running(api: ApiClient) -> int:
    page = await api.list_all(pod_pb2.Pod, "default", field_selector="status.phase=Running")
    return len(page.items)


async def not_ready(api: ApiClient) -> int:
    nodes = (await api.list_all(node_pb2.Node)).items
    return sum(1 for n in nodes if any(t.key.startswith("node.kubernetes.io/") for t in n.spec.taints))


def _last(path: Path) -> str:
    lines = path.read_text(errors="replace").strip().splitlines()
    return lines[-1] if lines else ""


async def run(args: argparse.Namespace, cluster: Cluster, hollow_log: Path) -> None:
    api = ApiClient.connect(cluster.api, wait_for_ready=True)
    while "registered" not in _last(hollow_log):
        await asyncio.sleep(2)
        cluster.check_scheduler()
    print(_last(hollow_log), flush=True)
    created = 0
    sem = asyncio.Semaphore(50)
    failures: dict[str, int] = {}

    async def one(i: int) -> None:
        async with sem:
            for attempt in range(6):
                try:
                    await api.create(pause_pod(f"h-{i}"))
                    return
                except errors.AlreadyExists:
                    return
                except errors.SkiffError as exc:  # overload answers (CANCELLED, UNAVAILABLE): back off, retry
                    failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                    await asyncio.sleep(0.5 * 2**attempt)

    start = time.monotonic()
    while created < args.pods and time.monotonic() - start < args.limit:
        cpu0 = cluster.cpu()
        t0 = time.monotonic()
        n = min(args.batch, args.pods - created)
        await asyncio.gather(*(one(created + i) for i in range(n)))
        created += n
        t_created = time.monotonic() - t0
        running = 0
        while time.monotonic() - t0 < args.batch_timeout:
            running = await count_running(api)
            if running >= created:
                break
            await asyncio.sleep(2)
        cpu1 = cluster.cpu()
        cpu = {k: round(cpu1[k] - cpu0.get(k, 0), 1) for k in cpu1}
        print(
            f"pods {created}: create {t_created:.0f}s, all running after {time.monotonic() - t0:.0f}s "
            f"({running}/{created}); create retries {failures}; nodes tainted {await not_ready(api)}; "
            f"cpu {cpu}; {_last(hollow_log)}",
            flush=True,
        )
        if running < created:
            print("stopping: the batch did not finish in time", flush=True)
            break
    await api.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--pods", type=int, default=30000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--batch-timeout", type=float, default=300.0)
    ap.add_argument("--limit", type=float, default=1800.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-hollow-scale-"))
    cluster = Cluster(tmp)
    hollow: subprocess.Popen[bytes] | None = None
    try:
        cluster.start()
        time.sleep(3)
        log = open(tmp / "controllers.log", "ab")
        cluster.procs["controllers"] = subprocess.Popen(
            [str(BIN / "skiff-controllers"), "--apiserver", cluster.api, "--log-level", "warning",
             "--metrics-address", f"127.0.0.1:{free_port()}"], stdout=log, stderr=log)  # fmt: skip
        cluster.start_scheduler([])
        hollow_log = tmp / "hollow.log"
        hollow = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve().parent / "hollow"), "--apiserver", cluster.api,
             "--nodes", str(args.nodes), "--pods", "110", "--report", "5"],
            stdout=open(hollow_log, "wb"), stderr=subprocess.STDOUT)  # fmt: skip
        cluster.procs["hollow"] = hollow
        asyncio.run(run(args, cluster, hollow_log))
    finally:
        cluster.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
