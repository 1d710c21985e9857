"""exec_sync: joins every namespace and the cgroup of the running container."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.executor import InvalidState, Status
from skiff_runtime.oci.wire import read_record

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


@pytest.fixture
async def running(env: Env) -> str:
    await env.create("target", ["sh", "-c", "echo up; sleep 1000"], env=["PATH=/bin", "ROLE=app"], cwd="/work")
    await env.executor.start("target")
    await env.wait_for_output("target", "up")
    return "target"


async def test_exec_sees_container_view(env: Env, running: str) -> None:
    rec = read_record(env.state_root / running)
    assert rec is not None
    script = "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $ROLE $EXTRA; pwd; cat /proc/self/cgroup"
    code, out, err = await env.executor.exec_sync(running, ["sh", "-c", script], env=["EXTRA=x"])
    assert (code, err) == (0, b"")
    lines = out.decode().splitlines()
    assert lines[0] == "skiff-test"
    assert lines[1].strip() == "sleep 1000"  # ash execs its last command in place
    assert lines[2:4] == ["app x", "/work"]
    # With a cgroup namespace the container's own cgroup is its root.
    assert any(line.endswith(":/") for line in lines[4:])


async def test_exec_exit_code_and_stderr(env: Env, running: str) -> None:
    code, out, err = await env.executor.exec_sync(running, ["sh", "-c", "echo oops >&2; exit 7"])
    assert (code, out, err) == (7, b"", b"oops\n")
    code, _, err = await env.executor.exec_sync(running, ["no-such-command"])
    assert code == 127 and b"no-such-command" in err


def pid_file() -> str:
    """A fresh name: the busybox rootfs, /tmp included, is shared by every test of the session, so a
    fixed name could show a shell's pid written by another test (in another container)."""
    return f"/tmp/pid-{secrets.token_hex(6)}"


async def test_exec_timeout_kills_the_command(env: Env, running: str) -> None:
    pid = pid_file()
    with pytest.raises(TimeoutError):
        await env.executor.exec_sync(running, ["sh", "-c", f"echo $$ > {pid}; sleep 1000"], timeout=2.0)
    # The timed-out shell is dead: gone, or a zombie of the container's init (sleep never reaps).
    # (An empty pid file means the machine was so slow the shell never got to run: also dead.)
    script = f'p=$(cat {pid} 2>/dev/null); s=$(cut -d" " -f3 /proc/${{p:-none}}/stat 2>/dev/null)'
    script += "; echo state=${s:-gone}"
    _, out, _ = await env.executor.exec_sync(running, ["sh", "-c", script])
    assert out in (b"state=gone\n", b"state=Z\n")
    assert env.alive((await env.executor.state(running)).pid)


async def test_exec_requires_running(env: Env) -> None:
    await env.create("idle", ["sleep", "1000"])
    with pytest.raises(InvalidState):
        await env.executor.exec_sync("idle", ["true"])
    await asyncio.sleep(0)


async def test_exec_falls_back_to_nsexec_without_shim(env: Env, running: str) -> None:
    rec = read_record(env.state_root / running)
    assert rec is not None
    os.kill(rec.shim_pid, signal.SIGKILL)
    for _ in range(200):
        if not env.alive(rec.shim_pid):
            break
        await asyncio.sleep(0.02)
    code, out, _ = await env.executor.exec_sync(running, ["sh", "-c", "hostname; echo $ROLE"])
    assert (code, out) == (0, b"skiff-test\napp\n")
    await env.executor.kill(running, signal.SIGKILL)  # no shim: signalled directly
    state = await asyncio.wait_for(env.executor.wait(running), 10)
    assert (state.status, state.exit_code) == (Status.STOPPED, 255)  # nobody could observe the status


async def test_cancelled_exec_kills_the_command(env: Env, running: str) -> None:
    pid_path = pid_file()
    command = ["sh", "-c", f"echo $$ > {pid_path}; sleep 1000"]
    task = asyncio.create_task(env.executor.exec_sync(running, command))
    pid = b""
    for _ in range(1200):
        code, out, _ = await env.executor.exec_sync(running, ["cat", pid_path])
        if code == 0 and out.endswith(b"\n"):  # complete: echo writes the pid and newline at once
            pid = out.strip()
            break
        await asyncio.sleep(0.025)
    assert pid.isdigit(), f"the exec'd command never wrote its pid: {task.result() if task.done() else 'running'}"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    script = f's=$(cut -d" " -f3 /proc/{pid.decode()}/stat 2>/dev/null); echo state=${{s:-gone}}'
    for _ in range(200):
        _, out, _ = await env.executor.exec_sync(running, ["sh", "-c", script])
        if out in (b"state=gone\n", b"state=Z\n"):
            break
        await asyncio.sleep(0.025)
    assert out in (b"state=gone\n", b"state=Z\n")
