"""cgroups: limits land in the real cgroup files, OOM and pids limits bite, stats, the v2 driver."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.cgroups import CgroupV2, detect_driver
from skiff_runtime.oci.cgroups.v2 import shares_to_weight
from skiff_runtime.oci.spec import Resources
from skiff_runtime.oci.state import read_record

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode

MiB = 1 << 20


def _cgroup_file(env: Env, cid: str, v1_controller: str, name: str) -> str:
    rec = read_record(env.state_root / cid)
    assert rec is not None
    driver = detect_driver()
    if driver.version == 2:
        return Path(f"/sys/fs/cgroup{rec.cgroups_path}/{name}").read_text().strip()
    d = next(d for d in driver.files(rec.cgroups_path) if v1_controller in os.path.basename(os.path.dirname(
        d[: -len(rec.cgroups_path)] + "/x")).split(","))  # fmt: skip
    return Path(f"{d}/{name}").read_text().strip()


async def test_limits_are_applied(env: Env) -> None:
    resources = {
        "memory": {"limit": 64 * MiB},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 32},
    }
    await env.create("limits", ["sleep", "1000"], resources=resources)
    if detect_driver().version == 1:
        assert _cgroup_file(env, "limits", "memory", "memory.limit_in_bytes") == str(64 * MiB)
        assert _cgroup_file(env, "limits", "cpu", "cpu.shares") == "512"
        assert _cgroup_file(env, "limits", "cpu", "cpu.cfs_quota_us") == "50000"
        assert _cgroup_file(env, "limits", "cpu", "cpu.cfs_period_us") == "100000"
    else:
        assert _cgroup_file(env, "limits", "memory", "memory.max") == str(64 * MiB)
        assert _cgroup_file(env, "limits", "cpu", "cpu.max") == "50000 100000"
    assert _cgroup_file(env, "limits", "pids", "pids.max") == "32"
    # The init (blocked before exec) is already inside the cgroup.
    pid = (await env.executor.state("limits")).pid
    assert str(pid) in _cgroup_file(env, "limits", "memory", "cgroup.procs").split()


@pytest.mark.parametrize(
    "args",
    [
        ["sh", "-c", "x=0123456789; while true; do x=$x$x; done"],  # the init itself grows
        ["tail", "/dev/zero"],  # an endless "line" buffered by tail
    ],
)
async def test_oom_kill_is_reported(env: Env, args: list[str]) -> None:
    state, _ = await env.run("hog", args, resources={"memory": {"limit": 16 * MiB}})
    assert (state.exit_code, state.oom_killed) == (137, True)


async def test_sigkill_without_oom_is_not_oom(env: Env) -> None:
    await env.create("victim", ["sleep", "1000"], resources={"memory": {"limit": 16 * MiB}})
    await env.executor.start("victim")
    await env.executor.kill("victim", signal.SIGKILL)
    state = await env.executor.wait("victim")
    assert (state.exit_code, state.oom_killed) == (137, False)


async def test_pids_limit_stops_forks(env: Env) -> None:
    script = "for i in 1 2 3 4 5 6; do sleep 1000 & done; echo spawned; kill $(jobs -p) 2>/dev/null; exit 0"
    state, log = await env.run("forky", ["sh", "-c", script], resources={"pids": {"limit": 4}})
    assert state.exit_code != 0  # ash treats a failed fork as fatal
    assert "can't fork: Resource temporarily unavailable" in log


async def test_stats(env: Env) -> None:
    await env.create(
        "busy", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; sleep 1000"]
    )
    await env.executor.start("busy")
    await env.wait_for_output("busy", "done")
    stats = await env.executor.stats("busy")  # type: ignore[attr-defined]
    assert stats.cpu_usage_ns > 0
    assert stats.memory_usage_bytes > 0
    assert 0 < stats.memory_working_set_bytes <= stats.memory_usage_bytes


def test_v2_driver_writes_unified_files(tmp_path: Path) -> None:
    """Pure file-writing logic against a fake unified tree (this host runs v1)."""
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    driver = CgroupV2(str(tmp_path))
    original_makedirs = os.makedirs

    def fake_makedirs(path: str, exist_ok: bool = False) -> None:  # the kernel would populate these
        original_makedirs(path, exist_ok=exist_ok)
        Path(path, "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
        Path(path, "cgroup.subtree_control").touch()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(os, "makedirs", fake_makedirs)
        driver.create("/pod1/c1", Resources(cpu_shares=1024, cpu_quota=20000, cpu_period=100000,
                                            memory_limit=128 * MiB, pids_limit=50))  # fmt: skip
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids +io"
    assert (tmp_path / "pod1" / "cgroup.subtree_control").read_text() == "+cpu +cpuset +memory +pids +io"
    leaf = tmp_path / "pod1" / "c1"
    assert (leaf / "cpu.weight").read_text() == "39"
    assert (leaf / "cpu.max").read_text() == "20000 100000"
    assert (leaf / "memory.max").read_text() == str(128 * MiB)
    assert (leaf / "pids.max").read_text() == "50"
    (leaf / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    assert driver.oom_kill_count("/pod1/c1") == 1


@pytest.mark.parametrize(("shares", "weight"), [(2, 1), (1024, 39), (262144, 10000), (0, 100)])
def test_shares_to_weight(shares: int, weight: int) -> None:
    assert shares_to_weight(shares) == weight
