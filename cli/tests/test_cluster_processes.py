"""Process bookkeeping of the local cluster: pid files are trusted only while they name our process."""

from __future__ import annotations

import sys
from pathlib import Path

from skiff_cli.cluster import processes
from skiff_cli.cluster.layout import ClusterLayout


def test_start_and_stop_a_process(tmp_path: Path) -> None:
    pid = processes.start(
        "sleeper",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_dir=tmp_path / "logs",
        pid_dir=tmp_path / "pids",
    )
    assert processes.running_pid("sleeper", tmp_path / "pids") == pid
    assert processes.stop("sleeper", tmp_path / "pids", timeout=5)
    assert processes.running_pid("sleeper", tmp_path / "pids") is None
    assert not processes.stop("sleeper", tmp_path / "pids")


def test_a_reused_pid_is_not_ours(tmp_path: Path) -> None:
    (tmp_path / "other.pid").write_text("1 12345678\n")  # pid 1 exists, but started at another time
    assert processes.running_pid("other", tmp_path) is None


def test_ephemeral_layouts_do_not_collide(tmp_path: Path) -> None:
    a = ClusterLayout.ephemeral(tmp_path / "a", "aaaaaa", pod_subnet=201)
    b = ClusterLayout.ephemeral(tmp_path / "b", "bbbbbb", pod_subnet=202)
    assert a.apiserver_port != b.apiserver_port
    assert a.bridge != b.bridge and len(a.bridge) <= 15
    assert a.cgroup_root != b.cgroup_root
    assert a.pod_cidr != b.pod_cidr


def test_down_finds_the_layout_up_recorded(tmp_path: Path) -> None:
    layout = ClusterLayout.ephemeral(tmp_path / "state", "abc123", pod_subnet=201)
    layout.save()
    assert ClusterLayout.load(tmp_path / "state") == layout
    # No record: the defaults, in that folder (never another cluster's bridge or cgroup by accident
    # once a cluster has been brought up there).
    assert ClusterLayout.load(tmp_path / "other") == ClusterLayout(state_dir=tmp_path / "other")
