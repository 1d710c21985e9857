"""`skiff up --nodes 3`'s code on the test cluster: two workers join through token discovery and TLS
bootstrap, every Node is Ready with its own pod CIDR, the control-plane node carries kubeadm's taint, and
removing the workers leaves none of their processes, bridges, cgroups or folders behind.

(The shared test cluster is given back as it was: workers reset, taint removed.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from skiff.api.core.v1 import node_pb2
from skiff_cli.cluster import cleanup, multinode, processes
from skiff_cli.cluster.local import LocalCluster
from skiff_client import ApiClient


async def untaint(cluster: LocalCluster) -> None:
    admin = cluster.client_config()
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        node = await client.get(node_pb2.Node, cluster.layout.node_name)
        keep = [
            {"key": t.key, "value": t.value, "effect": t.effect}
            for t in node.spec.taints
            if t.key != multinode.CONTROL_PLANE_TAINT
        ]
        await client.patch(node_pb2.Node, cluster.layout.node_name, "", {"spec": {"taints": keep}})
    finally:
        await client.close()


def test_workers_join_the_control_plane_and_leave_nothing(skiff, cluster: LocalCluster) -> None:  # type: ignore[no-untyped-def]
    layout = cluster.layout
    workers = [multinode.worker_layout(layout, i) for i in (1, 2)]
    try:
        multinode.add_workers(layout, cluster.client_config(), cluster.pki.path("ca").read_bytes(), 3, print)
        nodes = {n["metadata"]["name"]: n for n in skiff.get_json("nodes")["items"]}
        names = [layout.node_name, *(w.node_name for w in workers)]
        assert set(names) <= set(nodes)
        for name in names:
            ready = next(c for c in nodes[name]["status"]["conditions"] if c["type"] == "Ready")
            assert ready["status"] == "True", name
        cidrs = {nodes[name]["spec"]["podCIDR"] for name in names}
        assert len(cidrs) == 3
        taints = nodes[layout.node_name]["spec"].get("taints", [])
        assert {"key": multinode.CONTROL_PLANE_TAINT, "effect": "NoSchedule"} in taints
        assert not any(
            t["key"] == multinode.CONTROL_PLANE_TAINT
            for w in workers
            for t in nodes[w.node_name]["spec"].get("taints", [])
        )
    finally:
        multinode.remove_workers(layout, print)
        asyncio.run(untaint(cluster))
        for w in workers:
            skiff("delete", "node", w.node_name, check=False)
    for w in workers:
        assert processes.running_pid("kubelet", w.pid_dir) is None
        assert processes.running_pid("runtime", w.pid_dir) is None
        assert not cleanup.cgroup_dirs(w.cgroup_root)
        assert not Path(f"/sys/class/net/{w.bridge}").exists()
        assert not cleanup.leftover_processes(w)
        assert not (w.state_dir / "pki").exists()
