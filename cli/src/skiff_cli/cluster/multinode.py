"""`skiff up --nodes N`: the first node runs the control plane (LocalCluster), the others join it
through the same code a second machine runs (`skiff join`: a bootstrap token, discovery with the CA
pin, TLS bootstrap of the kubelet). With more than one node the first carries kubeadm's
`node-role.kubernetes.io/control-plane:NoSchedule` taint, so workloads go to the workers.

Each joined node keeps its own state folder (<state>/nodes/<name>), ports, bridge, pod CIDR and cgroup
root. For now the nodes share the host's network namespace (the per-node namespaces, routes between
nodes and a proxy per node are the next step; see docs/architecture.md); `skiff down` resets every
joined node before stopping the control plane.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from pathlib import Path

from skiff.api.core.v1 import node_pb2
from skiff_client.api import ApiClient
from skiff_common.pki import ca_cert_hash

from ..clientconfig import ClientConfig
from .discovery import discover
from .joining import JoinedNode
from .layout import LAYOUT_FILE, ClusterLayout
from .tokens import create_token

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"


def nodes_dir(layout: ClusterLayout) -> Path:
    return layout.state_dir / "nodes"


def worker_layout(layout: ClusterLayout, index: int) -> ClusterLayout:
    """Worker `index` (1-based after the control plane): its name, folder, free ports, bridge and a pod
    CIDR next to the control plane's (10.X+index.0.0/16)."""
    name = f"{layout.node_name}-worker{index}"
    first = ipaddress.ip_network(layout.pod_cidr)
    cidr = ipaddress.ip_network((int(first.network_address) + index * first.num_addresses, first.prefixlen))
    suffix = f"{layout.bridge[-5:]}w{index}"
    worker = ClusterLayout.ephemeral(nodes_dir(layout) / name, suffix, pod_subnet=0)
    worker.node_name, worker.pod_cidr, worker.cgroup_root = name, str(cidr), f"{layout.cgroup_root}-w{index}"
    return worker


async def _token_and_taint(admin: ClientConfig, node_name: str, taint: bool) -> str:
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        if taint:
            node = await client.get(node_pb2.Node, node_name)
            if not any(t.key == CONTROL_PLANE_TAINT for t in node.spec.taints):
                taints = [{"key": t.key, "value": t.value, "effect": t.effect} for t in node.spec.taints]
                taints.append({"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"})
                patch = {"metadata": {"labels": {CONTROL_PLANE_LABEL: ""}}, "spec": {"taints": taints}}
                await client.patch(node_pb2.Node, node_name, "", patch)
        return (await create_token(client, description="skiff up --nodes")).value
    finally:
        await client.close()


def add_workers(
    layout: ClusterLayout, admin: ClientConfig, ca_pem: bytes, nodes: int, say: Callable[[str], None]
) -> None:
    """Join workers 1..nodes-1 that are not there yet (idempotent, like `skiff up`)."""
    token = asyncio.run(_token_and_taint(admin, layout.node_name, taint=nodes > 1))
    pin = ca_cert_hash(ca_pem)
    for index in range(1, nodes):
        worker = worker_layout(layout, index)
        if (worker.state_dir / LAYOUT_FILE).exists():
            worker = ClusterLayout.load(worker.state_dir)
        say(f"joining node {worker.node_name}")
        JoinedNode(worker, say=say).join(discover(layout.join_address, token, [pin]), token)


def remove_workers(layout: ClusterLayout, say: Callable[[str], None]) -> None:
    folder = nodes_dir(layout)
    if not folder.is_dir():
        return
    for state in sorted(p for p in folder.iterdir() if (p / LAYOUT_FILE).exists()):
        worker = ClusterLayout.load(state)
        JoinedNode(worker, say=say).reset()
        (state / LAYOUT_FILE).unlink(missing_ok=True)
        say(f"reset node {worker.node_name}")
