"""Multi-node benchmark: `skiff up --nodes N` to all nodes Ready, one more `skiff join`, and the idle
memory of each worker (kubelet + runtime + proxy).

    sudo uv run python bench/multinode_bench.py [--nodes 3] [--settle 10]

A real cluster in a temporary folder on free ports, built by the code of `skiff up --nodes N`
(installed: binaries and the busybox image already built): the control plane and its node
(LocalCluster.up), then N-1 workers joined in parallel (multinode.add_workers: a bootstrap token,
discovery with the CA pin, per worker a network namespace on the node bridge, its runtime and kubelet,
TLS bootstrap by two CSRs, Node Ready, then its proxy with a system:kube-proxy certificate by CSR).
It times:

* `up_first_node_ready_s`: the control plane and the first node from nothing to the Node Ready;
* `all_nodes_ready_s`: from nothing to every node Ready and every worker's proxy serving;
* `one_join_s`: one more worker joined on the running cluster (the time of one `skiff join`, with its
  namespace, routes and proxy);
* idle memory per worker after --settle seconds: RSS and PSS (smaps_rollup) of its kubelet, runtime
  and proxy processes, and (worker 1) each one's CPU seconds so far, mostly its start-up: what N
  workers starting at once ask of the machine's cores.

Prints one JSON document; asserts nothing. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from skiff_cli.cluster import multinode, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster

NODE_PROCESSES = ("kubelet", "runtime", "proxy")


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of a process."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used since it started: mostly its start-up when idle."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-multinode-bench-"))
    suffix = secrets.token_hex(3)
    layout = ClusterLayout.ephemeral(tmp / "cp", suffix, pod_subnet=120 + secrets.randbelow(10))
    multinode.use_node_network(layout, f"10.254.{secrets.randbelow(250)}.0/24")
    cluster = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}", file=sys.stderr))
    out: dict[str, object] = {"nodes": args.nodes}

    def join(nodes: int) -> None:
        ca = cluster.pki.path("ca").read_bytes()
        multinode.add_workers(
            layout, cluster.client_config(), ca, nodes, lambda s: print(f"[join] {s}", file=sys.stderr)
        )

    try:
        started = time.monotonic()
        cluster.up()
        out["up_first_node_ready_s"] = round(time.monotonic() - started, 2)
        join(args.nodes)
        out["all_nodes_ready_s"] = round(time.monotonic() - started, 2)
        t0 = time.monotonic()
        join(args.nodes + 1)
        out["one_join_s"] = round(time.monotonic() - t0, 2)
        time.sleep(args.settle)
        per_node = []
        for index in range(1, args.nodes + 1):
            worker = ClusterLayout.load(multinode.worker_layout(layout, index).state_dir)
            rss = pss = 0
            each = {}
            for name in NODE_PROCESSES:
                pid = processes.running_pid(name, worker.pid_dir)
                if pid is not None:
                    r, p = memory_kib(pid)
                    rss, pss = rss + r, pss + p
                    each[name] = {
                        "rss_mib": round(r / 1024, 1),
                        "pss_mib": round(p / 1024, 1),
                        "cpu_s": round(cpu_seconds(pid), 2),
                    }
            per_node.append(
                {"node": worker.node_name, "rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1)}
                | ({"processes": each} if index == 1 else {})
            )
        out["idle_memory_per_worker"] = per_node
    finally:
        multinode.remove_workers(layout, lambda s: None)
        cluster.down()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
