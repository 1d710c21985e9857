"""HA control-plane bookkeeping (pure logic; tests/e2e/test_ha.py runs three real members): member layouts,
the rewiring of running processes to every member, and kubeadm's certificate-key encryption."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from skiff_cli.cluster import certkeys, controlplane, processes
from skiff_cli.cluster.layout import ClusterLayout


def test_member_layouts_are_their_own_and_recorded(tmp_path: Path) -> None:
    first = ClusterLayout.ephemeral(tmp_path, "abc123", pod_subnet=201)
    one = controlplane.member_layout(first, 1)
    assert one.state_dir == tmp_path / "controlplanes" / "node-abc123-cp1"
    assert one.pod_cidr == first.pod_cidr  # advertises the first node's pod gateway to pods
    assert {one.apiserver_port, one.etcd_client_port, one.etcd_peer_port}.isdisjoint(
        {first.apiserver_port, first.etcd_client_port, first.etcd_peer_port}
    )
    one.save()
    assert controlplane.member_layout(first, 1).apiserver_port == one.apiserver_port
    assert [m.node_name for m in controlplane.recorded_members(first)] == ["node-abc123-cp1"]


def test_peers_make_every_address_list(tmp_path: Path) -> None:
    first = ClusterLayout.ephemeral(tmp_path, "abc123", pod_subnet=201)
    everyone = [first, controlplane.member_layout(first, 1), controlplane.member_layout(first, 2)]
    for layout in everyone:
        controlplane.peers_of(layout, everyone)
    assert first.apiserver_address.split(",") == [m.apiserver_listen for m in everyone]
    assert everyone[1].apiserver_address.split(",")[0] == everyone[1].apiserver_listen
    assert sorted(everyone[2].etcd_endpoints) == sorted(m.etcd_endpoint for m in everyone)


def test_rewire_restarts_only_what_changed(tmp_path: Path) -> None:
    layout = ClusterLayout.ephemeral(tmp_path, "abc123", pod_subnet=201)
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    start = {"log_dir": layout.log_dir, "pid_dir": layout.pid_dir}
    processes.start("scheduler", [*sleep, f"--apiserver={layout.apiserver_address}"], **start)
    processes.start("runtime", [*sleep, "--listen=unix:///x"], **start)
    runtime_pid = processes.running_pid("runtime", layout.pid_dir)
    try:
        layout.apiserver_peers = ["127.0.0.1:7443"]
        said: list[str] = []
        controlplane.rewire(layout, said.append)
        argv = processes.recorded_argv("scheduler", layout.pid_dir)
        assert argv is not None and f"--apiserver={layout.apiserver_listen},127.0.0.1:7443" in argv
        assert "--leader-elect" in argv
        assert processes.running_pid("runtime", layout.pid_dir) == runtime_pid
        assert len(said) == 1
        controlplane.rewire(layout, said.append)
        assert len(said) == 1  # nothing changed the second time
    finally:
        for name in ("scheduler", "runtime"):
            processes.stop(name, layout.pid_dir, timeout=5)


def test_certificate_key_round_trip_and_refusals() -> None:
    key = certkeys.new_key()
    assert len(key) == 64
    blob = certkeys.encrypt(key, b"-----BEGIN PRIVATE KEY-----")
    assert b"PRIVATE" not in blob
    assert certkeys.decrypt(key, blob) == b"-----BEGIN PRIVATE KEY-----"
    with pytest.raises(certkeys.CertKeyError, match="does not decrypt"):
        certkeys.decrypt(certkeys.new_key(), blob)
    for bad in ("abc", "zz" * 32, key[:-2]):
        with pytest.raises(certkeys.CertKeyError, match="--certificate-key: must be 64 hex digits"):
            certkeys.decrypt(bad, blob)
