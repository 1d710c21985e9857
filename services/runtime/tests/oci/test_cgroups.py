"""cgroups: limits land in the real cgroup files, OOM and pids limits bite, stats, the v2 driver."""

from __future__ import annotations

import os
import secrets
import signal
import stat
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.cgroups import CgroupV2, detect_driver
from skiff_runtime.oci.cgroups.devices import Rule, attach_device_filter
from skiff_runtime.oci.cgroups.v2 import shares_to_weight
from skiff_runtime.oci.spec import Resources
from skiff_runtime.oci.testing import BUSYBOX
from skiff_runtime.oci.wire import read_record

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode

MiB = 1 << 20
LOOP0 = os.makedev(7, 0)  # a block device the host lets root open, outside any allow-list


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


async def test_oom_kill_of_a_worker_is_reported(env: Env) -> None:
    # The OOM killer picks the hog (tail), not the init; the init then exits 1 on its own. containerd
    # reports OOMKilled from the cgroup's OOM event all the same, and so do we.
    state, _ = await env.run(
        "worker", ["sh", "-c", "tail /dev/zero; exit 1"], resources={"memory": {"limit": 16 * MiB}}
    )
    assert (state.exit_code, state.oom_killed) == (1, True)


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
    await env.create("busy", ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done; sleep 1000"])
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
    driver = CgroupV2(str(tmp_path), device_filter=False)  # a fake tree cannot hold a BPF program
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


def _cgroup2_mount() -> str | None:
    for candidate in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(f"{candidate}/cgroup.procs") and os.path.exists(f"{candidate}/cgroup.subtree_control"):
            return candidate
    return None


def test_v2_device_filter_denies_disks(tmp_path: Path) -> None:
    """The eBPF device program, on the real cgroup2 tree (the hybrid host's "unified" one here)."""
    root = _cgroup2_mount()
    if root is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    cgroup = f"{root}/skiff-test-oci-dev-{secrets.token_hex(4)}"
    os.mkdir(cgroup)
    disk = LOOP0  # (the real disk is already off-limits to everything in this sandbox)
    os.mknod(tmp_path / "disk", 0o600 | stat.S_IFBLK, disk)
    os.mknod(tmp_path / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    try:
        attach_device_filter(cgroup)
        script = (
            f"echo $$ > {cgroup}/cgroup.procs; head -c1 {tmp_path}/null && echo null-ok;"
            f"cat {tmp_path}/disk > /dev/null && echo disk-ok;"
            f"mknod {tmp_path}/disk2 b {os.major(disk)} {os.minor(disk)} && echo mknod-ok"
        )
        result = subprocess.run([BUSYBOX, "sh", "-c", script], capture_output=True, text=True, timeout=30)
    finally:
        os.rmdir(cgroup)
    assert result.stdout.split() == ["null-ok", "mknod-ok"]
    assert "Operation not permitted" in result.stderr
    os.close(os.open(tmp_path / "disk", os.O_RDONLY))  # outside the cgroup it opens: the filter did it


def test_v2_driver_on_the_real_unified_tree() -> None:
    """The v2 driver's kernel-facing mechanics on a real cgroup2 tree: nested create with the device
    filter, joining, listing, CPU accounting from cpu.stat, cgroup.kill and removal. (The hybrid host's
    unified tree has no cpu/memory/pids controllers, so limits stay covered by the fake-tree test.)"""
    root = _cgroup2_mount()
    if root is None:
        pytest.skip("no cgroup2 hierarchy mounted")
    driver = CgroupV2(root)
    pod = f"/skiff-test-oci-v2-{secrets.token_hex(4)}"
    path = f"{pod}/c1"
    sleeper = subprocess.Popen([BUSYBOX, "sh", "-c", "while :; do :; done"])
    try:
        driver.create(path, Resources())
        driver.add_process(path, sleeper.pid)
        assert driver.procs(pod) == [sleeper.pid]  # seen from the pod level too
        assert f"0::{path}\n" in Path(f"/proc/{sleeper.pid}/cgroup").read_text()
        usage = 0
        for _ in range(100):  # the busy loop accrues CPU time; bounded wait, no timing asserted
            usage = int(Path(f"{root}{path}/cpu.stat").read_text().split()[1])
            if usage > 0:
                break
            subprocess.run([BUSYBOX, "sleep", "0.05"], check=True)
        assert usage > 0
        driver.kill_all(pod)
        assert sleeper.wait(10) == -signal.SIGKILL
        driver.remove(pod)
        assert not os.path.exists(f"{root}{pod}")
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        if os.path.exists(f"{root}{pod}"):
            driver.remove(pod)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("c 1:3 rwm", Rule(2, 1, 3, 7)),
        ("b *:* m", Rule(1, None, None, 1)),
        ("c 136:* rw", Rule(2, 136, None, 6)),
        ("a *:* r", Rule(None, None, None, 2)),
    ],
)
def test_device_rule_parsing(text: str, rule: Rule) -> None:
    assert Rule.parse(text) == rule
