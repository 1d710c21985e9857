"""Multi-node benchmark: `skiff up` to a Ready node, then nodes joined the kubeadm way, and the idle
memory of each joined node.

    sudo uv run python bench/multinode_bench.py [--nodes 3] [--settle 10]

A real cluster in a temporary folder on free ports (the code of `skiff up`, installed: binaries and the
busybox image already built). It times:

* `up`: the control plane and the first node from nothing to the Node Ready (LocalCluster.up);
* each join: a bootstrap token, discovery (cluster-info, JWS, CA pin, TLS to the pinned CA), the node's
  runtime and kubelet, TLS bootstrap (two CSRs approved and signed), Node Ready (the code of
  `skiff join`); nodes join one after another, so "N nodes" is up + (N-1) joins;
* idle memory per joined node after --settle seconds: RSS and PSS (smaps_rollup) of its kubelet and
  runtime processes (a joined node has no proxy yet).

Joined nodes share this host's network namespace here (their own bridge, pod CIDR, ports, cgroup root
and state folder). Prints one JSON document; asserts nothing. Everything is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from skiff_cli.cluster import processes
from skiff_cli.cluster.discovery import discover
from skiff_cli.cluster.joining import JoinedNode
from skiff_cli.cluster.layout import ClusterLayout
from skiff_cli.cluster.local import LocalCluster
from skiff_cli.cluster.tokens import create_token
from skiff_client import ApiClient
from skiff_common.pki import ca_cert_hash


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) in KiB of a process."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


async def new_token(cluster: LocalCluster) -> str:
    admin = cluster.client_config()
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        return (await create_token(client, description="multinode bench")).value
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-multinode-bench-"))
    suffix = secrets.token_hex(3)
    layout = ClusterLayout.ephemeral(tmp / "cp", suffix, pod_subnet=200 + secrets.randbelow(50))
    cluster = LocalCluster(layout, say=lambda line: print(f"[cluster] {line}", file=sys.stderr))
    joined: list[JoinedNode] = []
    out: dict[str, object] = {"nodes": args.nodes}
    try:
        started = time.monotonic()
        cluster.up()
        out["up_first_node_ready_s"] = round(time.monotonic() - started, 2)
        pin = ca_cert_hash(cluster.pki.path("ca").read_bytes())
        joins = []
        for i in range(1, args.nodes):
            token = asyncio.run(new_token(cluster))
            node_layout = ClusterLayout.ephemeral(tmp / f"node{i}", f"{suffix}n{i}", pod_subnet=150 + i)
            node_layout.node_name = f"bench-{suffix}-{i}"
            node = JoinedNode(node_layout, say=lambda line: print(f"[join] {line}", file=sys.stderr))
            t0 = time.monotonic()
            node.join(discover(layout.join_address, token, [pin]), token)
            joins.append(round(time.monotonic() - t0, 2))
            joined.append(node)
        out["join_s"] = joins
        out["all_nodes_ready_s"] = round(time.monotonic() - started, 2)
        time.sleep(args.settle)
        per_node = []
        for node in joined:
            rss = pss = 0
            for name in ("kubelet", "runtime"):
                pid = processes.running_pid(name, node.layout.pid_dir)
                if pid is not None:
                    r, p = memory_kib(pid)
                    rss, pss = rss + r, pss + p
            per_node.append(
                {"node": node.layout.node_name, "rss_mib": round(rss / 1024, 1), "pss_mib": round(pss / 1024, 1)}
            )
        out["idle_memory_per_joined_node"] = per_node
    finally:
        for node in joined:
            node.reset()
        cluster.down()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
