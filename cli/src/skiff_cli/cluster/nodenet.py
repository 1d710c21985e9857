"""The node network of a multi-node local cluster: one bridge on the host, one network namespace per
worker, and routes for the cluster's own prefixes only.

    host (control-plane node)                 worker namespace <node name>
    <bridge>n  10.250.0.1/24  ── veth ──────  eth0 10.250.0.2/24, lo
    route <worker pod CIDR> via 10.250.0.2    route <other pod CIDRs> via their node IPs
                                              <worker pod bridge> (made by the worker's CNI) ── pods

Why a namespace per worker and not only a bridge per worker: a node's kubelet, runtime and proxy then
see what they would on their own machine (their own addresses, routing table, nftables, port space),
and a pod's packets to another node's pod cross a real link between two network stacks, so "no NAT
between pods" is something the kernel shows, not something we assume.

Network safety: the worker namespaces have no default route, only routes to the cluster's pod CIDRs
through node IPs on the node bridge, and the host gets routes to the workers' pod CIDRs through the node
bridge only. Nothing is routed through the host's own interfaces. Every name made here carries the
cluster's bridge or node name, so the teardown touches only what this cluster made.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

NETNS_DIR = Path("/run/netns")


class NodeNetworkError(Exception):
    pass


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NodeNetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def address(node_cidr: str, index: int) -> str:
    """Node `index`'s address on the node bridge: 0 is the control-plane node (the host side, .1)."""
    network = ipaddress.ip_network(node_cidr, strict=False)
    if index + 2 >= network.num_addresses:
        raise NodeNetworkError(f"node CIDR {node_cidr} has no address for node {index}")
    return str(network.network_address + 1 + index)


def link_exists(name: str, netns: str = "") -> bool:
    return _ip(*(["-n", netns] if netns else []), "link", "show", name, check=False).returncode == 0


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def ensure_bridge(name: str, node_cidr: str) -> None:
    """The node bridge with the control-plane node's address (idempotent)."""
    prefix = ipaddress.ip_network(node_cidr, strict=False).prefixlen
    if not link_exists(name):
        _ip("link", "add", name, "type", "bridge")
    _ip("addr", "replace", f"{address(node_cidr, 0)}/{prefix}", "dev", name)
    _ip("link", "set", name, "up")


def ensure_namespace(netns: str, veth: str, bridge: str, node_ip: str, node_cidr: str) -> None:
    """A worker's namespace: `eth0` (the far end of `veth`, whose near end is in the node bridge) with
    the node's address, `lo` up, and forwarding on (the namespace routes between its pods and the
    other nodes). Idempotent."""
    prefix = ipaddress.ip_network(node_cidr, strict=False).prefixlen
    if not netns_exists(netns):
        _ip("netns", "add", netns)
    if not link_exists("eth0", netns):
        if link_exists(veth):
            _ip("link", "delete", veth)
        _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
    _ip("link", "set", veth, "master", bridge, "up")
    _ip("-n", netns, "addr", "replace", f"{node_ip}/{prefix}", "dev", "eth0")
    _ip("-n", netns, "link", "set", "eth0", "up")
    _ip("-n", netns, "link", "set", "lo", "up")
    sysctl = ["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ip_forward=1"]
    result = subprocess.run(sysctl, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NodeNetworkError(f"ip_forward in {netns}: {result.stderr.strip()}")


def set_routes(netns: str, routes: Sequence[tuple[str, str]], device: str) -> None:
    """Routes `prefix via gateway` in `netns` ("" for the host), replacing any earlier ones."""
    where = ["-n", netns] if netns else []
    for prefix, gateway in routes:
        _ip(*where, "route", "replace", prefix, "via", gateway, "dev", device)


def remove_routes(prefixes: Sequence[str], via: str, *, netns: str = "") -> int:
    """Routes to these prefixes through `via` in `netns` (the host's by default); only ours: matched by
    their gateway."""
    where = ["-n", netns] if netns else []
    removed = 0
    for prefix in prefixes:
        if _ip(*where, "route", "delete", prefix, "via", via, check=False).returncode == 0:
            removed += 1
    return removed


def remove_namespace(netns: str, veth: str) -> Iterator[str]:
    """The worker's namespace (with everything in it: eth0, its pod bridge, nftables, routes) and the
    veth's host end, if still there."""
    if netns_exists(netns):
        _ip("netns", "delete", netns, check=False)
        yield f"deleted network namespace {netns}"
    if link_exists(veth):
        _ip("link", "delete", veth, check=False)
        yield f"deleted link {veth}"


def remove_bridge(name: str) -> Iterator[str]:
    if link_exists(name):
        _ip("link", "delete", name, check=False)
        yield f"deleted node bridge {name}"


def in_netns(netns: str, argv: Sequence[str]) -> list[str]:
    """`argv` run in network namespace `netns` (only the network namespace: the process shares the
    host's mounts, so the kubelet's volume mounts are the runtime's too, which `ip netns exec`'s private
    mount namespace would break). nsenter execs the program, so the pid we record is the program's."""
    if not netns:
        return list(argv)
    return ["nsenter", f"--net={NETNS_DIR / netns}", "--", *argv]
