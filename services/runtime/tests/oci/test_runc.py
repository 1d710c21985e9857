"""runc and crun as executors, and the same bundles through skiff, runc and crun side by side.

The first tests run a representative subset of the executor contract through ``RuncExecutor`` (the
``runtime_env`` fixture: runc and crun; on a hybrid cgroup host crun runs in a private mount namespace
without ``/sys/fs/cgroup/unified``, see ``oci/runc_cli.py``).

The conformance tests below build ONE bundle per case and run it through all three executors, then
assert that exit code, OOM flag and the container's stdout/stderr are identical, and that they are
what the case expects (so "all three equally broken" fails too). Output that legitimately differs per
run (namespace inode numbers) is reduced to facts before comparing: "differs from the host".
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.executor import Executor, Status, list_ids, new_executor, remove_cgroup
from skiff_runtime.oci.testing import write_config

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode

EXECUTORS = ("skiff", "runc", "crun")


async def test_lifecycle_logs_and_exit_code(runtime_env: Env) -> None:
    env = runtime_env
    state, _ = await env.run("basic", ["sh", "-c", "ps; hostname; echo err >&2; exit 3"])
    assert (state.status, state.exit_code) == (Status.STOPPED, 3)
    out = env.stdout("basic")
    assert out[1].split()[0] == "1" and out[-1] == "skiff-test"
    assert env.stdout("basic", "stderr") == ["err"]


async def test_restart_exec_kill(runtime_env: Env) -> None:
    env = runtime_env
    await env.create("svc", ["sleep", "1000"])
    await env.executor.start("svc")
    fresh = new_executor(env.executor.name, state_root=env.state_root)
    assert (await fresh.state("svc")).status is Status.RUNNING and list_ids(env.state_root) == ["svc"]
    code, out, _ = await fresh.exec_sync("svc", ["sh", "-c", "echo $X; echo $PATH; exit 5"], env=["X=y"])
    assert (code, out) == (5, b"y\n/bin\n")  # extra env added to the config's, not replacing it
    await fresh.kill("svc", signal.SIGKILL)
    assert (await fresh.wait("svc")).exit_code == 137


async def test_oom(runtime_env: Env) -> None:
    state, _ = await runtime_env.run("hog", ["tail", "/dev/zero"], resources={"memory": {"limit": 16 << 20}})
    assert (state.exit_code, state.oom_killed) == (137, True)


# --- the same bundle through skiff, runc and crun -------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    exit_code: int | None
    oom_killed: bool
    stdout: tuple[str, ...]
    stderr: tuple[str, ...]


def _streams(log: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    out: list[str] = []
    err: list[str] = []
    for line in log.read_text().splitlines() if log.exists() else []:
        _, stream, _, content = [*line.split(" ", 3), ""][:4]
        (out if stream == "stdout" else err).append(content)
    return tuple(out), tuple(err)


class Trio:
    """One state root and parent cgroup per executor; ``run`` sends the same config through each."""

    def __init__(self, rootfs: Path, tmp: Path) -> None:
        self.rootfs = rootfs
        self.tmp = tmp
        self.parent = f"/skiff-test-interop-{secrets.token_hex(4)}"
        self.executors: dict[str, Executor] = {
            name: new_executor(name, state_root=tmp / f"state-{name}") for name in EXECUTORS
        }

    async def run_one(self, name: str, case: str, args: list[str], **kw: Any) -> Outcome:
        cid = f"{case}-{name}"
        bundle = write_config(self.tmp / f"bundle-{cid}", self.rootfs, args, cgroups_path=f"{self.parent}/{cid}", **kw)
        log = self.tmp / "logs" / f"{cid}.log"
        executor = self.executors[name]
        await executor.create(cid, bundle, log_path=log)
        await executor.start(cid)
        state = await asyncio.wait_for(executor.wait(cid), 30)
        await executor.delete(cid)
        return Outcome(state.exit_code, state.oom_killed, *_streams(log))

    async def run(self, case: str, args: list[str], **kw: Any) -> Outcome:
        """Run through all three (sequentially: limits and OOM behave as on a quiet machine) and
        return the common outcome after asserting that all three agree."""
        outcomes = {name: await self.run_one(name, case, args, **kw) for name in EXECUTORS}
        assert outcomes["runc"] == outcomes["skiff"], f"{case}: runc differs from skiff"
        assert outcomes["crun"] == outcomes["skiff"], f"{case}: crun differs from skiff"
        return outcomes["skiff"]

    async def close(self) -> None:
        for name, executor in self.executors.items():
            for cid in list_ids(self.tmp / f"state-{name}"):
                await executor.kill(cid, signal.SIGKILL)
                await asyncio.wait_for(executor.wait(cid), 10)
                await executor.delete(cid)
        driver = detect_driver()
        leftovers = await asyncio.to_thread(_subdirs, driver.files(self.parent))
        remove_cgroup(self.parent)
        assert not leftovers, f"container cgroups survived delete(): {leftovers}"


def _subdirs(dirs: list[str]) -> list[str]:
    return [e.path for d in dirs if os.path.isdir(d) for e in os.scandir(d) if e.is_dir()]


@pytest.fixture
async def trio(rootfs: Path, tmp_path: Path) -> AsyncIterator[Trio]:
    for name in EXECUTORS[1:]:
        if shutil.which(name) is None:
            pytest.skip(f"{name} is not installed (apt-get install {name})")
    t = Trio(rootfs, tmp_path)
    try:
        yield t
    finally:
        await t.close()


@pytest.mark.parametrize(
    ("script", "code"),
    # pid 1 ignores signals it has no handler for, even SIGKILL from inside its namespace: so does ours.
    [("exit 0", 0), ("exit 7", 7), ("nosuchcmd", 127), ("kill -KILL $$; exit 3", 3)],
)
async def test_same_exit_codes(trio: Trio, script: str, code: int) -> None:
    outcome = await trio.run("exit", ["sh", "-c", script])
    assert (outcome.exit_code, outcome.oom_killed) == (code, False)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGKILL, 137), (signal.SIGUSR1, 138)])
async def test_same_exit_code_when_killed(trio: Trio, sig: int, code: int) -> None:
    codes = {}
    for name, executor in trio.executors.items():
        cid = f"kill-{name}"
        # Host pid namespace: as a pid namespace's init, sleep would ignore SIGTERM/SIGUSR1 (no handler).
        bundle = write_config(
            trio.tmp / f"bundle-{cid}", trio.rootfs, ["sleep", "1000"], cgroups_path=f"{trio.parent}/{cid}",
            namespaces=[{"type": t} for t in ("mount", "uts", "ipc", "network")],
        )  # fmt: skip
        await executor.create(cid, bundle, log_path=None)
        await executor.start(cid)
        await executor.kill(cid, sig)
        codes[name] = (await asyncio.wait_for(executor.wait(cid), 10)).exit_code
        await executor.delete(cid)
    assert codes == dict.fromkeys(EXECUTORS, code)


async def test_same_isolation(trio: Trio) -> None:
    kinds = ("pid", "mnt", "net", "ipc", "uts", "cgroup")
    host = {k: os.readlink(f"/proc/self/ns/{k}") for k in kinds}
    # Inode numbers change per container: print "new" or "host" per namespace, decided in the container.
    checks = "; ".join(
        f'[ "$(readlink /proc/self/ns/{k})" = "{host[k]}" ] && echo {k}=host || echo {k}=new' for k in kinds
    )
    # "echo /proc/[0-9]*" is expanded by the shell itself (no fork): the only process is the shell.
    script = f"echo pid=$$; hostname; {checks}; grep -c : /proc/net/dev; echo /proc/[0-9]*"
    outcome = await trio.run("iso", ["sh", "-c", script], hostname="iso-host")
    # pid 1, own hostname, every namespace new, only "lo" in the netns, no process but our own.
    assert outcome.stdout == ("pid=1", "iso-host", *(f"{k}=new" for k in kinds), "1", "/proc/1"), outcome


async def test_same_limits(trio: Trio) -> None:
    cgroup_mount = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                    "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}  # fmt: skip
    resources = {
        "memory": {"limit": 48 << 20},
        "pids": {"limit": 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000},
    }
    # v1 paths first, v2 second: whichever exists on this host answers (the other is silenced).
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null;"
        "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null;"
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu.max 2>/dev/null; true"
    )
    outcome = await trio.run("lim", ["sh", "-c", script], extra_mounts=[cgroup_mount], resources=resources)
    assert outcome.exit_code == 0
    assert outcome.stdout[:2] == (str(48 << 20), "20")
    assert outcome.stdout[2] in ("50000", "50000 100000")
    hog = await trio.run("oom", ["tail", "/dev/zero"], resources={"memory": {"limit": 16 << 20}})
    assert (hog.exit_code, hog.oom_killed) == (137, True)


async def test_same_mounts(trio: Trio, tmp_path: Path) -> None:
    src_ro, src_rw = tmp_path / "config", tmp_path / "scratch"
    src_ro.mkdir()
    src_rw.mkdir()
    (src_ro / "settings").write_text("mode=fast\n")
    mounts = [
        {"destination": "/etc/app", "type": "bind", "source": str(src_ro), "options": ["rbind", "ro"]},
        {"destination": "/scratch", "type": "bind", "source": str(src_rw), "options": ["rbind", "rw"]},
        {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},
    ]
    script = (
        "cat /etc/app/settings; touch /etc/app/new 2>/dev/null || echo app-ro;"
        "echo $(hostname) >> /scratch/out; touch /tmp/ok && echo tmp-rw; touch /new 2>/dev/null || echo root-ro;"
        "echo kcore=$(cat /proc/kcore | wc -c); echo firmware=$(ls /sys/firmware | wc -l);"
        "echo 1 > /proc/sys/vm/overcommit_memory 2>/dev/null || echo sysctl-ro;"
        "touch /sys/x 2>/dev/null || echo sys-ro; ls /dev | grep -vx core"
    )  # runc alone adds the legacy /dev/core -> /proc/kcore symlink: not part of the comparison
    outcome = await trio.run("mnt", ["sh", "-c", script], extra_mounts=mounts, readonly=True)
    assert outcome.exit_code == 0, outcome
    head = ("mode=fast", "app-ro", "tmp-rw", "root-ro", "kcore=0", "firmware=0", "sysctl-ro", "sys-ro")
    assert outcome.stdout[: len(head)] == head
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd"):
        assert node in outcome.stdout[len(head) :]
    assert (src_rw / "out").read_text() == "skiff-test\n" * 3 and not (src_ro / "new").exists()


async def test_same_env_and_cwd(trio: Trio) -> None:
    env = ["PATH=/bin:/usr/bin", "HOME=/home/app", "GREETING=hello world", "EMPTY=", "EQ=a=b"]
    outcome = await trio.run("env", ["sh", "-c", "env | sort; pwd"], env=env, cwd="/work")
    expected = sorted([*env, "PWD=/work", "SHLVL=1"])  # ash adds PWD and SHLVL itself
    assert outcome.stdout == (*expected, "/work"), outcome


@pytest.mark.parametrize(
    ("uid", "gid", "expected_id"),
    [
        (0, 0, "uid=0(root) gid=0(root) groups=0(root)"),
        (65534, 65534, "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"),
        (1234, 5678, "uid=1234 gid=5678 groups=5678"),
    ],
)
async def test_same_user_and_capabilities(trio: Trio, uid: int, gid: int, expected_id: str) -> None:
    script = "id; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; touch /etc/passwd 2>/dev/null || echo denied"
    outcome = await trio.run("user", ["sh", "-c", script], uid=uid, gid=gid)
    assert outcome.stdout[0] == expected_id
    fields = dict(line.split(":\t") for line in outcome.stdout[1:4])
    assert fields["CapBnd"] == "00000000a80425fb" and fields["NoNewPrivs"] == "1"
    # root keeps Docker's default set; anyone else has no effective capabilities and cannot write /etc.
    assert fields["CapEff"] == ("00000000a80425fb" if uid == 0 else "0000000000000000")
    assert outcome.stdout[4:] == (() if uid == 0 else ("denied",))


async def test_same_exec(trio: Trio) -> None:
    """exec_sync: exit code, stdout/stderr split, extra env on top of the config's, runs as the config's user."""
    results = {}
    for name, executor in trio.executors.items():
        cid = f"exec-{name}"
        bundle = write_config(
            trio.tmp / f"bundle-{cid}", trio.rootfs, ["sleep", "1000"], uid=65534, gid=65534,
            cgroups_path=f"{trio.parent}/{cid}", env=["PATH=/bin", "A=1"],
        )  # fmt: skip
        await executor.create(cid, bundle, log_path=None)
        await executor.start(cid)
        script = "echo $A$B; id -u; echo oops >&2; exit 4"
        results[name] = await executor.exec_sync(cid, ["sh", "-c", script], env=["B=2"], timeout=10)
        await executor.kill(cid, signal.SIGKILL)
        await executor.wait(cid)
        await executor.delete(cid)
    assert results["skiff"] == (4, b"12\n65534\n", b"oops\n")
    assert results["runc"] == results["skiff"] and results["crun"] == results["skiff"]
