"""The runc/crun-backed executor honours the same contract (a representative subset of the suite)."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from skiff_runtime.oci import Status, list_ids, new_executor

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


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
    code, out, _ = await fresh.exec_sync("svc", ["sh", "-c", "echo $X; exit 5"], env=["X=y"])
    assert (code, out) == (5, b"y\n")
    await fresh.kill("svc", signal.SIGKILL)
    assert (await fresh.wait("svc")).exit_code == 137


async def test_oom(runtime_env: Env) -> None:
    state, _ = await runtime_env.run("hog", ["tail", "/dev/zero"], resources={"memory": {"limit": 16 << 20}})
    assert (state.exit_code, state.oom_killed) == (137, True)
