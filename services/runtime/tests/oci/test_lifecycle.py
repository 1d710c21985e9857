"""Lifecycle: created -> running -> stopped -> deleted, exit codes, stop, restart of the caller."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import TYPE_CHECKING

import pytest
from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.executor import ContainerNotFound, ExecutorError, InvalidState, Status, list_ids, new_executor
from skiff_runtime.oci.executor.skiff import SkiffExecutor
from skiff_runtime.oci.executor.zygote_client import stop_factory
from skiff_runtime.oci.wire import read_record

if TYPE_CHECKING:
    from conftest import Env  # fixtures only: conftest is not importable under importlib mode


async def test_init_is_pid1_with_hostname_env_cwd_and_user(env: Env) -> None:
    script = "ps; hostname; echo FOO=$FOO; pwd; id -u; id -g; id -G"
    state, _ = await env.run(
        "who",
        ["sh", "-c", script],
        env=["PATH=/bin", "FOO=bar baz"],
        cwd="/work",
        uid=65534,
        gid=65534,
        hostname="skiff-who",
    )
    assert state.status is Status.STOPPED and state.exit_code == 0
    out = env.stdout("who")
    ps_rows = [row.split(None, 2) for row in out if row.strip()[:1].isdigit()]
    assert ps_rows[0][0] == "1" and ps_rows[0][2].startswith("sh -c ps;")
    assert out[-6:] == ["skiff-who", "FOO=bar baz", "/work", "65534", "65534", "65534"]


async def test_exit_code_is_reported(env: Env) -> None:
    state, _ = await env.run("three", ["sh", "-c", "exit 3"])
    assert (state.status, state.exit_code, state.oom_killed) == (Status.STOPPED, 3, False)
    assert state.created_at <= state.started_at <= state.finished_at  # type: ignore[operator]


async def test_states_and_sigkill_gives_137(env: Env) -> None:
    created = await env.create("sleeper", ["sleep", "1000"])
    assert created.status is Status.CREATED and created.pid > 0 and created.started_at is None
    # Blocked before exec: the init is still our Python, not sleep.
    assert not env.read(f"/proc/{created.pid}/cmdline").startswith("sleep")
    await env.executor.start("sleeper")
    running = await env.executor.state("sleeper")
    assert running.status is Status.RUNNING and running.pid == created.pid
    with pytest.raises(InvalidState):
        await env.executor.start("sleeper")
    with pytest.raises(InvalidState):
        await env.executor.delete("sleeper")
    await env.executor.kill("sleeper", signal.SIGKILL)
    state = await env.executor.wait("sleeper")
    assert (state.status, state.exit_code, state.pid) == (Status.STOPPED, 137, 0)
    await env.executor.kill("sleeper", signal.SIGKILL)  # idempotent on a stopped container


async def test_stop_sigterm_ignored_then_sigkill(env: Env) -> None:
    await env.create("stubborn", ["sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"])
    await env.executor.start("stubborn")
    await env.wait_for_output("stubborn", "ready")
    await env.executor.kill("stubborn", signal.SIGTERM)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(env.executor.wait("stubborn"), 0.5)
    await env.executor.kill("stubborn", signal.SIGKILL)
    state = await env.executor.wait("stubborn")
    assert state.exit_code == 137


async def test_stop_sigterm_graceful(env: Env) -> None:
    await env.create("polite", ["sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"])
    await env.executor.start("polite")
    await env.wait_for_output("polite", "ready")
    await env.executor.kill("polite", signal.SIGTERM)
    state = await asyncio.wait_for(env.executor.wait("polite"), 10)
    assert state.exit_code == 0


async def test_kill_while_created(env: Env) -> None:
    await env.create("never", ["sleep", "1000"])
    await env.executor.kill("never", signal.SIGKILL)
    state = await env.executor.wait("never")
    assert (state.status, state.exit_code, state.started_at) == (Status.STOPPED, 137, None)


async def test_state_survives_caller_restart(env: Env) -> None:
    await env.create("durable", ["sleep", "1000"])
    await env.executor.start("durable")
    before = await env.executor.state("durable")
    fresh = new_executor("skiff", state_root=env.state_root)  # what a restarted runtime service builds
    assert list_ids(env.state_root) == ["durable"]
    assert await fresh.state("durable") == before
    code, out, _ = await fresh.exec_sync("durable", ["hostname"])
    assert (code, out) == (0, b"skiff-test\n")
    await fresh.kill("durable", signal.SIGKILL)
    assert (await fresh.wait("durable")).exit_code == 137


async def test_state_when_shim_and_init_are_gone(env: Env) -> None:
    await env.create("orphan", ["sleep", "1000"])
    await env.executor.start("orphan")
    rec = read_record(env.state_root / "orphan")
    assert rec is not None
    os.kill(rec.shim_pid, signal.SIGKILL)
    os.kill(rec.pid, signal.SIGKILL)
    for _ in range(200):
        if not env.alive(rec.shim_pid) and not env.alive(rec.pid):
            break
        await asyncio.sleep(0.02)
    state = await env.executor.state("orphan")
    assert (state.status, state.exit_code) == (Status.STOPPED, 255)  # exit status unknowable


async def test_delete_leaves_nothing_behind(env: Env) -> None:
    mounts_before = env.read("/proc/self/mountinfo")
    await env.create("gone", ["sh", "-c", "sleep 1000 & sleep 1000"])
    await env.executor.start("gone")
    rec = read_record(env.state_root / "gone")
    assert rec is not None
    cgroup_dirs = detect_driver().files(rec.cgroups_path)
    assert all(env.exists(d) for d in cgroup_dirs)
    await env.executor.kill("gone", signal.SIGKILL)
    await env.executor.wait("gone")
    await env.executor.delete("gone")
    assert not any(env.exists(d) for d in cgroup_dirs)
    assert not env.alive(rec.pid) and not env.alive(rec.shim_pid)
    assert not (env.state_root / "gone").exists() and list_ids(env.state_root) == []
    assert env.read("/proc/self/mountinfo") == mounts_before
    with pytest.raises(ContainerNotFound):
        await env.executor.state("gone")


async def test_exec_failure_fails_start(env: Env) -> None:
    await env.create("typo", ["/bin/no-such-binary"])
    with pytest.raises(ExecutorError, match="no-such-binary"):
        await env.executor.start("typo")
    state = await env.executor.wait("typo")
    assert (state.status, state.exit_code) == (Status.STOPPED, 127)


async def test_rlimits_and_additional_gids(env: Env) -> None:
    process = {
        "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456}],
        "user": {"uid": 1000, "gid": 1000, "additionalGids": [5, 7], "umask": 0o027},
    }
    script = "ulimit -n; ulimit -Hn; id -G; umask"
    state, _ = await env.run("limits", ["sh", "-c", script], process=process)
    assert state.exit_code == 0
    assert env.stdout("limits") == ["123", "456", "1000 5 7", "0027"]


async def test_long_state_root_uses_short_socket_path(env: Env) -> None:
    """sun_path is 108 bytes; the shim binds relative to its dir and we connect via /proc/self/fd."""
    deep = env.tmp / ("d" * 60) / ("e" * 60)
    executor = new_executor("skiff", state_root=deep)
    await executor.create("deep", env.bundle("deep", ["sh", "-c", "exit 4"]), log_path=None)
    await executor.start("deep")
    assert (await executor.wait("deep")).exit_code == 4
    await executor.delete("deep")
    assert list_ids(deep) == []
    assert stop_factory(deep), "the shim factory should serve a long state root too"


# Cancelled at several points: before the request reaches the factory, while it forks, while the shim
# sets up, and about when it answers (the race a fixed delay hit about 1 run in 10). A forked shim
# needs ten-odd ms for the init's rootfs; a python one more than that for its interpreter alone.
@pytest.mark.parametrize(
    ("factory", "delay"),
    [(True, 0.0), (True, 0.002), (True, 0.006), (True, 0.01), (True, 0.015), (False, 0.05)],
    ids=["factory-0ms", "factory-2ms", "factory-6ms", "factory-10ms", "factory-15ms", "python-shim-50ms"],
)
async def test_cancelled_create_leaves_nothing(env: Env, factory: bool, delay: float) -> None:
    env.executor = SkiffExecutor(env.state_root, use_zygote=factory)
    if factory:  # a running factory: the shim exists within a few ms of the request
        assert (await env.run("warm-up", ["true"]))[0].exit_code == 0
    bundle = env.bundle("cancelled", ["sleep", "1000"])
    task = asyncio.create_task(env.executor.create("cancelled", bundle, log_path=None))
    await asyncio.sleep(delay)
    if task.cancel():
        with pytest.raises(asyncio.CancelledError):
            await task
    else:  # a fast machine finished the create first: then delete must leave nothing, as checked below
        await task
        await env.executor.delete("cancelled")
    shim_log = env.state_root / "cancelled" / "shim.log"  # the shim's stdout/stderr, however started
    for _ in range(500):
        if not env.processes_holding(shim_log):
            break
        await asyncio.sleep(0.02)
    assert not env.processes_holding(shim_log), "the shim of a cancelled create() kept running"
    assert not (env.state_root / "cancelled").exists()
    assert not any(env.exists(d) for d in detect_driver().files(f"{env.parent_cgroup}/cancelled"))
