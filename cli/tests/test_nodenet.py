"""nodenet against the real kernel: the node bridge, a worker's namespace and veth, routes, idempotent
set-up, and a teardown that leaves nothing (names are random, addresses in a range only this test uses)."""

from __future__ import annotations

import os
import secrets
import subprocess

import pytest
from skiff_cli.cluster import nodenet

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def ip(*args: str) -> str:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False).stdout


def test_a_worker_namespace_on_the_node_bridge_and_its_teardown() -> None:
    tag = secrets.token_hex(3)
    cidr = f"10.253.{secrets.randbelow(250)}.0/24"
    bridge, netns, veth = f"skt{tag}n", f"skt-{tag}-w1", f"vskt{tag}w1"
    node_ip = nodenet.address(cidr, 1)
    try:
        for _ in range(2):  # idempotent: `skiff up` runs again on a running cluster
            nodenet.ensure_bridge(bridge, cidr)
            nodenet.ensure_namespace(netns, veth, bridge, node_ip, cidr)
            nodenet.set_routes("", [("10.252.1.0/24", node_ip)], bridge)
            nodenet.set_routes(netns, [("10.252.0.0/24", nodenet.address(cidr, 0))], "eth0")
        assert f"{node_ip}/24" in ip("-n", netns, "addr", "show", "eth0")
        assert "UP" in ip("-n", netns, "link", "show", "lo")
        inside = ip("-n", netns, "route", "show")
        assert f"10.252.0.0/24 via {nodenet.address(cidr, 0)} dev eth0" in inside and "default" not in inside
        assert f"10.252.1.0/24 via {node_ip} dev {bridge}" in ip("route", "show")
        forward = ["ip", "netns", "exec", netns, "cat", "/proc/sys/net/ipv4/ip_forward"]
        assert subprocess.run(forward, capture_output=True, text=True, check=True).stdout.strip() == "1"
        assert f"master {bridge}" in ip("link", "show", veth)
    finally:
        removed = list(nodenet.remove_namespace(netns, veth))
        routes = nodenet.remove_routes(["10.252.1.0/24"], node_ip)
        removed += list(nodenet.remove_bridge(bridge))
    # (the veth's host end goes with the namespace, but the kernel may take a moment: then it is deleted)
    assert {f"deleted network namespace {netns}", f"deleted node bridge {bridge}"} <= set(removed)
    assert routes == 1
    assert not nodenet.netns_exists(netns) and not nodenet.link_exists(veth) and not nodenet.link_exists(bridge)
    assert "10.252.1.0/24" not in ip("route", "show")
    assert list(nodenet.remove_namespace(netns, veth)) == [] and list(nodenet.remove_bridge(bridge)) == []


def test_commands_enter_only_the_network_namespace() -> None:
    assert nodenet.in_netns("", ["skiff-kubelet", "--x"]) == ["skiff-kubelet", "--x"]
    assert nodenet.in_netns("w1", ["skiff-kubelet"]) == ["nsenter", "--net=/run/netns/w1", "--", "skiff-kubelet"]
