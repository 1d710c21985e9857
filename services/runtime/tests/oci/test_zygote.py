"""The shim factory (``zygote.py``): shims forked from it, its death, restarts, fallback, fd hygiene."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.executor import Status, new_executor, zygote_client
from skiff_runtime.oci.executor.skiff import SkiffExecutor
from skiff_runtime.oci.executor.zygote_client import DISABLE_ENV, SOCKET, stop_factory
from skiff_runtime.oci.wire import read_record

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


def _peer(state_root: Path) -> tuple[int, int] | None:
    """(pid, uid) of the process listening on <state_root>/zygote.sock (SO_PEERCRED), or None."""
    dirfd = os.open(state_root, os.O_PATH)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
            s.connect(f"/proc/self/fd/{dirfd}/{SOCKET}")
            pid, uid, _ = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
            return pid, uid
    except OSError:
        return None
    finally:
        os.close(dirfd)


def factory_pid(state_root: Path) -> int | None:
    peer = _peer(state_root)
    return peer[0] if peer and peer[1] == 0 else None


def _listening_uid(state_root: Path) -> int | None:
    peer = _peer(state_root)
    return peer[1] if peer else None


def ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


async def test_create_forks_the_shim_from_the_factory(env: Env) -> None:
    state, _ = await env.run("first", ["sh", "-c", "echo hi; exit 3"])
    assert state.exit_code == 3 and env.stdout("first") == ["hi"]
    pid = factory_pid(env.state_root)
    assert pid is not None, "no factory serves the state root after a create"
    await env.create("forked", ["sleep", "1000"])
    rec = read_record(env.state_root / "forked")
    assert rec is not None
    assert env.read(f"/proc/{rec.shim_pid}/comm").strip() == "skiff-shim"
    assert env.processes_with_fd(env.state_root / "forked" / "shim.log") == [rec.shim_pid]
    assert ppid(rec.shim_pid) == pid, "the factory forks the shim itself (no middle process)"
    assert os.getsid(rec.shim_pid) != os.getsid(pid), "the shim must have its own session"
    assert factory_pid(env.state_root) == pid, "one factory serves every create"
    await env.executor.kill("forked", signal.SIGKILL)
    await env.executor.wait("forked")
    await env.executor.delete("forked")
    # The factory ignores SIGCHLD: its exited shims are reaped by the kernel, never left as its
    # zombies (the pidfd delete() waits on fires a moment before the kernel releases the pid).
    for _ in range(100):
        if not env.exists(f"/proc/{rec.shim_pid}"):
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError(f"the deleted shim is still in /proc: {env.read(f'/proc/{rec.shim_pid}/stat')}")


async def test_factory_killed_containers_survive_and_next_create_restarts_it(env: Env) -> None:
    await env.create("survivor", ["sh", "-c", "trap 'exit 7' TERM; echo up; while :; do sleep 0.05; done"])
    await env.create("not-started", ["true"])
    await env.executor.start("survivor")
    await env.wait_for_output("survivor", "up")
    old = factory_pid(env.state_root)
    assert old is not None
    assert stop_factory(env.state_root)  # SIGKILL, waits until it is gone
    assert not env.alive(old)
    assert (await env.executor.state("survivor")).status is Status.RUNNING
    assert (await env.executor.state("not-started")).status is Status.CREATED
    code, out, _ = await env.executor.exec_sync("survivor", ["echo", "still here"])
    assert (code, out) == (0, b"still here\n")
    await env.executor.kill("survivor", signal.SIGTERM)
    assert (await asyncio.wait_for(env.executor.wait("survivor"), 10)).exit_code == 7
    await env.executor.start("not-started")
    assert (await asyncio.wait_for(env.executor.wait("not-started"), 10)).exit_code == 0
    state, _ = await env.run("after", ["sh", "-c", "exit 5"])
    assert state.exit_code == 5
    new = factory_pid(env.state_root)
    assert new is not None and new != old, "the next create must start a new factory"


async def test_factory_dies_with_its_state_root_gone(env: Env) -> None:
    await env.run("once", ["true"])
    pid = factory_pid(env.state_root)
    assert pid is not None
    await env.executor.delete("once")
    os.rename(env.state_root / SOCKET, env.state_root / "moved.sock")  # its socket is no longer its own
    for _ in range(300):
        if not env.alive(pid):
            break
        await asyncio.sleep(0.02)
    assert not env.alive(pid), "a factory whose socket was replaced must exit by itself"


async def test_recreated_executor_sees_the_same_state_and_factory(env: Env) -> None:
    await env.create("kept", ["sleep", "1000"])
    await env.executor.start("kept")
    pid = factory_pid(env.state_root)
    before = await env.executor.state("kept")
    fresh = new_executor("skiff", state_root=env.state_root)  # what a restarted runtime service builds
    assert await fresh.state("kept") == before
    await fresh.create("more", env.bundle("more", ["sh", "-c", "exit 9"]), log_path=None)
    await fresh.start("more")
    assert (await asyncio.wait_for(fresh.wait("more"), 10)).exit_code == 9
    assert factory_pid(env.state_root) == pid, "a new executor must reuse the running factory"
    await fresh.kill("kept", signal.SIGKILL)
    assert (await asyncio.wait_for(fresh.wait("kept"), 10)).exit_code == 137


@pytest.mark.parametrize("how", ["flag", "env"])
async def test_fallback_spawns_python_shim_when_disabled(env: Env, how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if how == "env":
        monkeypatch.setenv(DISABLE_ENV, "0")
        env.executor = new_executor("skiff", state_root=env.state_root)
    else:
        env.executor = SkiffExecutor(env.state_root, use_zygote=False)
    await env.create("plain", ["sleep", "1000"])
    rec = read_record(env.state_root / "plain")
    assert rec is not None
    assert "skiff_runtime.oci.shim" in cmdline(rec.shim_pid)
    assert not (env.state_root / SOCKET).exists(), "no factory may be started when it is disabled"
    await env.executor.start("plain")
    await env.executor.kill("plain", signal.SIGKILL)
    assert (await asyncio.wait_for(env.executor.wait("plain"), 10)).exit_code == 137


async def test_foreign_socket_is_never_used(env: Env) -> None:
    """A zygote.sock served by another uid is ignored and replaced by our own factory."""
    env.state_root.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    sock.bind(str(env.state_root / SOCKET))
    # The listener's credentials are taken at listen(): let an unprivileged process call it.
    code = f"import socket, sys; s = socket.socket(fileno={sock.fileno()}); s.listen(8); sys.stdin.read()"
    foreign = await asyncio.create_subprocess_exec(  # system python: nobody may not read the venv
        "/usr/bin/python3", "-c", code, stdin=subprocess.PIPE, pass_fds=(sock.fileno(),), user=65534
    )
    sock.close()
    try:
        for _ in range(200):  # until it listens
            if factory_pid(env.state_root) is None and _listening_uid(env.state_root) == 65534:
                break
            await asyncio.sleep(0.02)
        assert _listening_uid(env.state_root) == 65534
        state, _ = await env.run("trusting", ["sh", "-c", "exit 2"])
        assert state.exit_code == 2
        assert _listening_uid(env.state_root) == 0, "our factory must have replaced the foreign socket"
    finally:
        foreign.kill()
        await foreign.wait()


async def test_concurrent_creates_start_one_factory(env: Env) -> None:
    ids = [f"many-{i}" for i in range(10)]
    await asyncio.gather(*(env.create(cid, ["sh", "-c", f"echo {cid}"]) for cid in ids))
    await asyncio.gather(*(env.executor.start(cid) for cid in ids))
    states = await asyncio.gather(*(asyncio.wait_for(env.executor.wait(cid), 30) for cid in ids))
    assert [s.exit_code for s in states] == [0] * 10
    assert all(env.stdout(cid) == [cid] for cid in ids)
    marker = f"skiff_runtime.oci.shim.zygote\0--state-root\0{env.state_root}\0"
    # Forked shims keep the factory's command line unless PR_SET_MM is allowed; their comm tells them apart.
    factories = [p for p in env.processes_with(marker) if env.read(f"/proc/{p}/comm").strip() != "skiff-shim"]
    assert factories == [factory_pid(env.state_root)], "concurrent creates must share one factory"


@pytest.mark.parametrize("factory", [True, False], ids=["factory", "python-shim"])
async def test_no_fd_leaks_into_containers_or_shims(env: Env, factory: bool) -> None:
    env.executor = SkiffExecutor(env.state_root, use_zygote=factory)
    # $$ is the shell (kept alive by "; true"): ls /proc/self/fd would list the directory ls reads.
    state, _ = await env.run("fds", ["sh", "-c", "ls /proc/$$/fd; true"])
    assert state.exit_code == 0
    assert env.stdout("fds") == ["0", "1", "2"]
    await env.create("shim-fds", ["sleep", "1000"])
    rec = read_record(env.state_root / "shim-fds")
    assert rec is not None
    targets = {os.readlink(f"/proc/{rec.shim_pid}/fd/{fd}") for fd in os.listdir(f"/proc/{rec.shim_pid}/fd")}
    assert os.readlink(f"/proc/{rec.shim_pid}/fd/0") == "/dev/null"
    assert os.readlink(f"/proc/{rec.shim_pid}/fd/2") == str(env.state_root / "shim-fds" / "shim.log")
    assert not [t for t in targets if "zygote" in t], f"factory files leaked into the shim: {targets}"


async def test_factory_running_other_code_steps_aside(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A factory whose code id differs from the executor's (an upgrade on disk) answers 'stale', drops
    its socket and exits; the executor then never forks from outdated code (here both tries are stale,
    so the create falls back to a python shim and still works)."""
    await env.run("before-upgrade", ["true"])
    old = factory_pid(env.state_root)
    assert old is not None
    monkeypatch.setattr(zygote_client, "code_id", lambda: "not-the-factory-code")
    await env.create("after-upgrade", ["sleep", "1000"])
    rec = read_record(env.state_root / "after-upgrade")
    assert rec is not None
    assert "skiff_runtime.oci.shim" in cmdline(rec.shim_pid)
    for _ in range(300):
        if not env.alive(old):
            break
        await asyncio.sleep(0.02)
    assert not env.alive(old), "a stale factory must exit"
    assert factory_pid(env.state_root) is None
    monkeypatch.undo()
    await env.executor.start("after-upgrade")
    await env.executor.kill("after-upgrade", signal.SIGKILL)
    assert (await asyncio.wait_for(env.executor.wait("after-upgrade"), 10)).exit_code == 137
