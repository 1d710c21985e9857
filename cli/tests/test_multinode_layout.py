"""Pure logic of the multi-node layout: which addresses, CIDRs, names and command lines each worker gets."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest
from skiff_cli.cluster import components, multinode, nodenet, processes
from skiff_cli.cluster.layout import ClusterLayout
from skiff_common.grpcutil import TLSConfig

TLS = TLSConfig("ca.crt", "c.crt", "c.key")


def control_plane(tmp_path: Path, *, network: bool = True) -> ClusterLayout:
    layout = ClusterLayout(state_dir=tmp_path)
    if network:
        multinode.use_node_network(layout)
    return layout


def test_worker_pod_cidrs_are_distinct_and_skip_the_service_range(tmp_path: Path) -> None:
    layout = control_plane(tmp_path)
    cidrs = [ipaddress.ip_network(multinode.worker_layout(layout, i).pod_cidr) for i in range(1, 12)]
    services = ipaddress.ip_network(multinode.SERVICE_CIDR_RANGE)
    assert len(set(cidrs)) == len(cidrs)
    assert not any(c.overlaps(services) or c.overlaps(ipaddress.ip_network(layout.pod_cidr)) for c in cidrs)


def test_workers_get_a_namespace_an_address_and_no_nat(tmp_path: Path) -> None:
    layout = control_plane(tmp_path)
    worker = multinode.worker_layout(layout, 2)
    assert (layout.node_ip, worker.node_ip) == ("10.250.0.1", "10.250.0.3")
    assert worker.netns == worker.node_name and not worker.ip_masq
    assert worker.local_host == worker.node_ip  # the host reaches a worker's endpoints there
    assert layout.local_host == "127.0.0.1"  # the control plane keeps its own on loopback
    assert layout.join_address == f"10.250.0.1:{layout.rest_port}"
    assert len(worker.node_veth) <= 15 and len(layout.node_bridge) <= 15


def test_worker_processes_run_in_its_namespace(tmp_path: Path) -> None:
    worker = multinode.worker_layout(control_plane(tmp_path), 1)
    for component in (components.runtime(worker), components.kubelet(worker, TLS), components.proxy(worker, TLS)):
        assert component.argv[:2] == ["nsenter", f"--net=/run/netns/{worker.netns}"]
    assert "--ip-masq=false" in components.runtime(worker).argv
    kubelet = components.kubelet(worker, TLS).argv
    assert f"--node-ip={worker.node_ip}" in kubelet and f"--listen={worker.node_ip}:{worker.kubelet_port}" in kubelet


def test_a_lone_node_is_unchanged(tmp_path: Path) -> None:
    layout = control_plane(tmp_path, network=False)
    worker = multinode.worker_layout(layout, 1)
    assert not worker.netns and worker.ip_masq
    assert components.runtime(worker).argv[0].endswith("skiff-runtime")
    assert "--ip-masq=false" not in components.runtime(layout).argv
    apiserver = components.apiserver(layout, TLS, TLS)
    assert f"--advertise-address={layout.pod_gateway}" in apiserver.argv and "--advertise-grpc" not in apiserver.argv
    assert layout.join_address == f"127.0.0.1:{layout.rest_port}"


def test_the_control_plane_listens_on_the_node_bridge(tmp_path: Path) -> None:
    layout = control_plane(tmp_path)
    argv = components.apiserver(layout, TLS, TLS).argv
    assert "--advertise-address=10.250.0.1" in argv and "--advertise-grpc" in argv
    assert any(a.startswith("--listen=") and a.endswith(",10.250.0.1:53") for a in components.dns(layout, TLS).argv)


@pytest.mark.parametrize("index", [254, 300])
def test_a_node_cidr_without_room_is_refused(index: int) -> None:
    with pytest.raises(nodenet.NodeNetworkError, match="no address for node"):
        nodenet.address("10.250.0.0/24", index)


def _running_as(name: str, layout: ClusterLayout) -> None:
    """Record this very test process as the cluster's `name` (a real, running pid and start time)."""
    layout.pid_dir.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    (layout.pid_dir / f"{name}.pid").write_text(f"{pid} {processes.start_time(pid)}\n")


@pytest.mark.parametrize(
    ("network", "running", "nodes", "switch"),
    [
        (False, True, 3, True),  # a running one-node cluster growing: onto a node network first
        (False, True, 1, False),  # one node stays one node
        (False, False, 3, False),  # stopped: `up` starts everything with the node network's flags anyway
        (True, True, 3, False),  # started with a node network: workers join it
    ],
)
def test_a_running_one_node_cluster_moves_onto_the_node_network_to_grow(
    tmp_path: Path, network: bool, running: bool, nodes: int, switch: bool
) -> None:
    saved = control_plane(tmp_path, network=network)
    if running:
        _running_as("apiserver", saved)
    assert multinode.needs_node_network(saved, nodes) == switch


def test_worker_kubelets_serve_metrics_on_the_control_planes_port_at_their_own_address(tmp_path: Path) -> None:
    """skiff-metrics has one --kubelet-port and dials each Node's InternalIP (as metrics-server)."""
    layout = control_plane(tmp_path)
    layout.metrics_ports["kubelet"] = 41250
    worker = multinode.worker_layout(layout, 1)
    assert worker.metrics_address("kubelet") == f"{worker.node_ip}:41250"
