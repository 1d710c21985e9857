"""`skiff up --nodes N`: the first node runs the control plane (LocalCluster), the others join it
through the same code a second machine runs (`skiff join`: a bootstrap token, discovery with the CA
pin, TLS bootstrap of the kubelet). With more than one node the first carries kubeadm's
`node-role.kubernetes.io/control-plane:NoSchedule` taint, so workloads go to the workers.

Each joined node keeps its own state folder (<state>/nodes/<name>), ports, bridge, pod CIDR and cgroup
root. When the control plane was started with a node network (`layout.node_cidr`, which `skiff up
--nodes N` with N > 1 sets), every worker also gets its own network namespace with an address on the
node bridge (nodenet.py), routes to the other nodes' pod CIDRs, a proxy of its own with a
`system:kube-proxy` certificate issued by CSR (proxyident.py), and its kubelet serves metrics on the
control-plane kubelet's port at its own address, where skiff-metrics scrapes every Node. `skiff up
--nodes N` moves a running one-node cluster onto a node network first (`needs_node_network`); workers
added by this module's API to a control plane without one (as an e2e test does) share the host's
namespace and run no proxy. Workers join in parallel, once cluster-info is signed for their token: each
join is its own runtime, kubelet and TLS bootstrap, and only the Node Ready wait is long. Each joined
node has its own supervisor (supervise.py). `skiff down` resets every joined node before stopping the
control plane.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from skiff.api.core.v1 import config_pb2, node_pb2
from skiff_client.api import ApiClient
from skiff_common import errors
from skiff_common.bootstrap import clusterinfo
from skiff_common.pki import ca_cert_hash

from ..clientconfig import ClientConfig
from . import nodenet, processes, proxyident, registry
from .components import proxy
from .discovery import discover
from .joining import JoinedNode, JoinError
from .layout import LAYOUT_FILE, ClusterLayout
from .local import proxy_healthy, wait_for
from .tokens import create_token

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane"
SIGNED_TIMEOUT = 60.0


# The node bridge's range: outside the pod CIDRs (10.88.0.0/16 and up) and the service range (10.96/12).
NODE_CIDR = "10.250.0.0/24"
# The apiserver's whole default --service-cluster-ip-range (Kubernetes' 10.96.0.0/12): no pod CIDR in it.
SERVICE_CIDR_RANGE = "10.96.0.0/12"


def use_node_network(layout: ClusterLayout, node_cidr: str = NODE_CIDR) -> None:
    """Give a control-plane layout (before LocalCluster.up) a node network: the node bridge with its
    address (.1) where the apiserver, registry and DNS also listen, and pod traffic without NAT."""
    layout.node_cidr, layout.node_ip, layout.ip_masq = node_cidr, nodenet.address(node_cidr, 0), False


def needs_node_network(saved: ClusterLayout, nodes: int) -> bool:
    """Whether `skiff up --nodes N` finds a running cluster started with one node, which has no node
    network: its apiserver, registry and DNS listen on 127.0.0.1 only and its apiserver's serving
    certificate names no node-bridge address, so workers in their own namespaces could not reach it.
    `up` then makes the bridge, re-issues the certificate and restarts every component but etcd with
    the node network's flags (LocalCluster.up(restart=True)); a stopped one needs nothing special, as
    every component then starts from the new layout anyway."""
    if nodes <= 1 or saved.node_cidr:
        return False
    return any(processes.running_pid(n, saved.pid_dir) is not None for n in ("apiserver", "etcd"))


def nodes_dir(layout: ClusterLayout) -> Path:
    return layout.state_dir / "nodes"


def worker_layout(layout: ClusterLayout, index: int) -> ClusterLayout:
    """Worker `index` (1-based after the control plane): its name, folder, free ports, bridge and a pod
    CIDR after the control plane's (10.X+index.0.0/16, skipping the service range 10.96.0.0/12)."""
    name = f"{layout.node_name}-worker{index}"
    first = ipaddress.ip_network(layout.pod_cidr)
    services = ipaddress.ip_network(SERVICE_CIDR_RANGE)
    step, seen = 0, 0
    while True:
        step += 1
        cidr = ipaddress.ip_network((int(first.network_address) + step * first.num_addresses, first.prefixlen))
        if not cidr.overlaps(services):
            seen += 1
            if seen == index:
                break
    suffix = f"{layout.bridge[-5:]}w{index}"
    worker = ClusterLayout.ephemeral(nodes_dir(layout) / name, suffix, pod_subnet=0)
    worker.node_name, worker.pod_cidr, worker.cgroup_root = name, str(cidr), f"{layout.cgroup_root}-w{index}"
    if layout.node_cidr:  # its own namespace and address on the node bridge; pods talk unNATed
        worker.node_cidr, worker.node_ip = layout.node_cidr, nodenet.address(layout.node_cidr, index)
        worker.netns, worker.ip_masq = name, False
        # Every kubelet serves /metrics/resource on the same port at its own address (Kubernetes' 10250 on
        # every node), so skiff-metrics' one --kubelet-port reaches each Node at its InternalIP.
        worker.metrics_ports["kubelet"] = layout.metrics_ports["kubelet"]
    return worker


def connect_nodes(layout: ClusterLayout, workers: list[ClusterLayout]) -> None:
    """Namespaces and veths for these workers, then routes: the host to each worker's pods, each worker
    to the control-plane node's and every other worker's pods (only the cluster's own prefixes)."""
    for w in workers:
        nodenet.ensure_namespace(w.netns, w.node_veth, layout.node_bridge, w.node_ip, layout.node_cidr)
    nodenet.set_routes("", [(w.pod_cidr, w.node_ip) for w in workers], layout.node_bridge)
    for w in workers:
        others = [(o.pod_cidr, o.node_ip) for o in workers if o is not w]
        nodenet.set_routes(w.netns, [(layout.pod_cidr, layout.node_ip), *others], "eth0")


def start_proxy(admin: ClientConfig, worker: ClusterLayout) -> None:
    """The worker's own skiff-proxy in its namespace, as system:kube-proxy (proxyident.py)."""
    if processes.running_pid("proxy", worker.pid_dir) is not None:
        return
    tls = proxyident.proxy_tls(worker)
    if not Path(tls.cert_file).exists():
        tls = asyncio.run(proxyident.issue(admin, worker))
    # the CA the join's discovery pinned, which the join writes first
    wait_for("the node's CA file", lambda: Path(tls.ca_file).exists(), timeout=30)
    component = proxy(worker, tls)
    processes.start(component.name, component.argv, log_dir=worker.log_dir, pid_dir=worker.pid_dir)
    log = worker.log_dir / "proxy.log"

    def healthy() -> bool:
        if processes.running_pid("proxy", worker.pid_dir) is None:
            raise JoinError(f"proxy of {worker.node_name} exited during start-up; see {log}")
        return proxy_healthy(worker)

    wait_for(f"the proxy of {worker.node_name}", healthy, timeout=30, log=log)


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
        made = await create_token(client, description="skiff up --nodes")
        # The bootstrapsigner controller signs cluster-info for the new token; joins start once it has
        # (it may be starting again itself, after `up` moved the cluster onto its node network).
        deadline = time.monotonic() + SIGNED_TIMEOUT
        while True:
            info = await client.get(config_pb2.ConfigMap, clusterinfo.NAME, clusterinfo.NAMESPACE)
            if clusterinfo.JWS_PREFIX + made.id in info.data:
                return made.value
            if time.monotonic() > deadline:
                raise JoinError(f"cluster-info was not signed for token {made.id} within {SIGNED_TIMEOUT:.0f}s")
            await asyncio.sleep(0.2)
    finally:
        await client.close()


def add_workers(
    layout: ClusterLayout, admin: ClientConfig, ca_pem: bytes, nodes: int, say: Callable[[str], None]
) -> None:
    """Join workers 1..nodes-1 that are not there yet (idempotent, like `skiff up`), all at once; workers
    beyond them are reset and their Nodes deleted (`skiff up --nodes N` on a running cluster)."""
    token = asyncio.run(_token_and_taint(admin, layout.node_name, taint=nodes > 1))
    pin = ca_cert_hash(ca_pem)
    workers = []
    for index in range(1, nodes):
        worker = worker_layout(layout, index)
        if (worker.state_dir / LAYOUT_FILE).exists():
            worker = ClusterLayout.load(worker.state_dir)
        workers.append(worker)
    wanted = {w.node_name for w in workers}
    for extra in [w for w in joined_workers(layout) if w.node_name not in wanted]:
        remove_worker(extra, admin, workers, say)
    if layout.node_cidr:
        connect_nodes(layout, workers)
    for worker in workers:  # the control plane's registry is every node's docker.io mirror
        registry.write_mirror_config(worker.registry_config_dir, layout.registry_address)

    def join(worker: ClusterLayout) -> None:
        say(f"joining node {worker.node_name}")
        JoinedNode(worker, say=say).join(discover(layout.join_address, token, [pin]), token)

    # Every join at once, and each worker's proxy beside its join (it needs only its namespace and the
    # API, not the kubelet): the time to N nodes is about one join, not N.
    with ThreadPoolExecutor(max_workers=max(1, 2 * len(workers))) as pool:
        started = [pool.submit(join, w) for w in workers]
        started += [pool.submit(start_proxy, admin, w) for w in workers if w.netns]
        for done in started:
            done.result()  # the first failure is raised (the others have finished by then)


def joined_workers(layout: ClusterLayout) -> list[ClusterLayout]:
    folder = nodes_dir(layout)
    if not folder.is_dir():
        return []
    return [ClusterLayout.load(p) for p in sorted(folder.iterdir()) if (p / LAYOUT_FILE).exists()]


async def _delete_node(admin: ClientConfig, name: str) -> None:
    client = ApiClient.connect(admin.server, tls=admin.tls)
    try:
        await client.delete(node_pb2.Node, name)
    except errors.NotFound:
        pass
    finally:
        await client.close()


def remove_worker(
    worker: ClusterLayout, admin: ClientConfig, survivors: list[ClusterLayout], say: Callable[[str], None]
) -> None:
    """One worker fewer: reset it (its namespace and the host's route to it go), drop the other workers'
    routes to its pods, and delete its Node (`kubeadm reset` + `kubectl delete node`)."""
    JoinedNode(worker, say=say).reset()
    (worker.state_dir / LAYOUT_FILE).unlink(missing_ok=True)
    for other in survivors:
        if other.netns and nodenet.netns_exists(other.netns):
            nodenet.remove_routes([worker.pod_cidr], worker.node_ip, netns=other.netns)
    asyncio.run(_delete_node(admin, worker.node_name))
    say(f"removed node {worker.node_name}")


def remove_workers(layout: ClusterLayout, say: Callable[[str], None]) -> None:
    for worker in joined_workers(layout):
        JoinedNode(worker, say=say).reset()
        (worker.state_dir / LAYOUT_FILE).unlink(missing_ok=True)
        say(f"reset node {worker.node_name}")
