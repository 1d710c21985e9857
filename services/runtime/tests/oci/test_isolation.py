"""Isolation: rootfs, mounts, masked/read-only paths, capabilities, joined namespaces."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from skiff_runtime.oci.executor import Status

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


async def test_readonly_rootfs(env: Env) -> None:
    state, log = await env.run("ro", ["sh", "-c", "touch /tmp/x"], readonly=True)
    assert state.exit_code == 1 and "Read-only file system" in log
    state, _ = await env.run("rw", ["sh", "-c", "touch /tmp/x && rm /tmp/x"])
    assert state.exit_code == 0


async def test_bind_mounts_ro_and_rw(env: Env, tmp_path: Path) -> None:
    src_ro = tmp_path / "config"
    src_rw = tmp_path / "scratch"
    src_ro.mkdir()
    src_rw.mkdir()
    (src_ro / "settings").write_text("mode=fast\n")
    mounts = [
        {
            "destination": "/etc/app",
            "type": "bind",
            "source": str(src_ro),
            "options": ["rbind", "ro", "rprivate"],
        },
        {"destination": "/scratch", "type": "bind", "source": str(src_rw), "options": ["rbind", "rw"]},
    ]
    script = "cat /etc/app/settings; touch /etc/app/new; echo written > /scratch/out"
    state, log = await env.run("binds", ["sh", "-c", script], extra_mounts=mounts)
    assert state.exit_code == 0
    assert env.stdout("binds") == ["mode=fast"]
    assert "Read-only file system" in log
    assert not (src_ro / "new").exists()
    assert (src_rw / "out").read_text() == "written\n"


async def test_masked_and_readonly_paths(env: Env) -> None:
    script = (
        "echo kcore=$(cat /proc/kcore | wc -c); echo firmware=$(ls /sys/firmware | wc -l);"
        "echo 1 > /proc/sys/vm/overcommit_memory && echo sysctl-writable;"
        "grep -c . /proc/self/mounts > /dev/null && echo mounts-readable"
    )
    state, _ = await env.run("masked", ["sh", "-c", script])
    assert state.exit_code == 0
    out = env.stdout("masked")
    assert "kcore=0" in out and "firmware=0" in out
    assert "sysctl-writable" not in out and "mounts-readable" in out


async def test_dev_has_standard_nodes_only(env: Env) -> None:
    script = "ls /dev; echo x > /dev/null && head -c 4 /dev/zero | wc -c; test -e /dev/sda || echo no-sda"
    state, _ = await env.run("dev", ["sh", "-c", script])
    assert state.exit_code == 0
    out = env.stdout("dev")
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd"):
        assert node in out
    assert out[-2:] == ["4", "no-sda"]


async def test_capabilities_are_dropped(env: Env) -> None:
    # Docker's default set has no CAP_SYS_ADMIN, so mount must fail even as root.
    state, log = await env.run("caps", ["sh", "-c", "grep Cap /proc/self/status; mount -t tmpfs t /tmp"])
    assert state.exit_code != 0 and "permission denied" in log
    bounding = next(line for line in env.stdout("caps") if line.startswith("CapBnd"))
    assert int(bounding.split()[1], 16) == 0x00000000A80425FB  # docker default


async def test_join_network_namespace_by_path(env: Env) -> None:
    # A "sandbox" container owns the namespaces; the app container joins them like a pod does.
    await env.create("sandbox", ["sleep", "1000"])
    await env.executor.start("sandbox")
    sandbox_pid = (await env.executor.state("sandbox")).pid
    net = f"/proc/{sandbox_pid}/ns/net"
    ipc = f"/proc/{sandbox_pid}/ns/ipc"
    namespaces = [
        {"type": "pid"},
        {"type": "mount"},
        {"type": "network", "path": net},
        {"type": "ipc", "path": ipc},
    ]
    state, _ = await env.run(
        "app", ["sh", "-c", "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc"], namespaces=namespaces
    )
    assert state.exit_code == 0
    assert env.stdout("app") == [os.readlink(net), os.readlink(ipc)]
    assert os.readlink(net) != os.readlink("/proc/self/ns/net")
    await env.executor.kill("sandbox", signal.SIGKILL)
    assert (await env.executor.wait("sandbox")).status is Status.STOPPED


async def test_host_network_when_no_network_namespace(env: Env) -> None:
    namespaces = [{"type": "pid"}, {"type": "mount"}]
    state, _ = await env.run("hostnet", ["readlink", "/proc/self/ns/net"], namespaces=namespaces)
    assert state.exit_code == 0
    assert env.stdout("hostnet") == [os.readlink("/proc/self/ns/net")]


async def test_cgroup_mount_shows_own_cgroup(env: Env) -> None:
    cgroup_mount = {
        "destination": "/sys/fs/cgroup",
        "type": "cgroup",
        "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"],
    }
    script = (
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max 2>/dev/null;"
        "touch /sys/fs/cgroup/x 2>/dev/null || echo ro"
    )
    resources = {"memory": {"limit": 48 << 20}}
    state, _ = await env.run("cgmount", ["sh", "-c", script], extra_mounts=[cgroup_mount], resources=resources)
    assert state.exit_code == 0
    assert env.stdout("cgmount") == [str(48 << 20), "ro"]


async def test_sysctls_and_oom_score_adj(env: Env) -> None:
    sysctl = {"net.ipv4.ip_unprivileged_port_start": "0", "kernel.shmmni": "1234"}
    script = "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/shmmni /proc/self/oom_score_adj"
    state, _ = await env.run("sysctl", ["sh", "-c", script], linux={"sysctl": sysctl}, process={"oomScoreAdj": 500})
    assert state.exit_code == 0
    assert env.stdout("sysctl") == ["0", "1234", "500"]
    # The host's values are untouched (both live in namespaces the container had to itself).
    assert env.read("/proc/sys/net/ipv4/ip_unprivileged_port_start").strip() != "0"


async def test_no_signals_ignored_or_blocked(env: Env) -> None:
    """Python ignores SIGPIPE/SIGXFSZ; the container must not inherit that (``yes | head`` relies on it)."""
    grep = ["grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]  # no shell: ash ignores SIGQUIT itself
    state, _ = await env.run("sigs", grep)
    assert state.exit_code == 0
    assert env.stdout("sigs") == ["SigBlk:\t0000000000000000", "SigIgn:\t0000000000000000"]
    await env.create("execsigs", ["sleep", "1000"])
    await env.executor.start("execsigs")
    code, out, _ = await env.executor.exec_sync("execsigs", grep)
    assert (code, out) == (0, b"SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n")


async def test_container_cannot_open_block_devices(env: Env) -> None:
    # /dev/loop0 (7:0): root on this host may open it, the container's device allow-list may not.
    script = "mknod /tmp/disk b 7 0 && cat /tmp/disk"
    state, log = await env.run("disk", ["sh", "-c", script])
    assert state.exit_code != 0  # mknod is allowed (CAP_MKNOD, "b *:* m"), opening is not
    assert "can't open '/tmp/disk': Operation not permitted" in log
