"""``SkiffExecutor``: the runtime-service side of our own executor.

It holds no in-memory state at all: every call reads ``<state_root>/<id>/state.json`` (written only by
the shim) and talks to the shim's socket. That is what makes a runtime restart a non-event: a fresh
``SkiffExecutor`` sees exactly what the old one saw.

Shims are forked by the shim factory of the state root (``shim/zygote.py``, reached through
``zygote_client.py``; started on first use and shared by every executor on that root), which saves
an interpreter start (~200 ms) per create. If the factory cannot be used and nothing was forked, the
shim is spawned as ``python -m skiff_runtime.oci.shim`` instead (logged at debug level);
``use_zygote=False`` or ``SKIFF_OCI_ZYGOTE=0`` forces that path. Either way nothing here depends on
the factory after create (a factory's shims are its children only until it exits; the kernel reaps
them, so they are never its zombies).

When the shim is gone (killed, crashed, machine rebooted with a persistent state root) ``state()``
reconciles the record with ``/proc``: a container whose init is also gone is reported STOPPED with
exit code 255 ("unknown", as containerd does), because nobody could observe its real exit status.

``exec_sync`` never calls ``setns`` here: it is refused for multi-threaded processes (the runtime
service is one: grpc, to_thread). The shim forks the command (``exec_client.py``/
``shim/execsync.py``), or, if the shim is gone, a fresh single-threaded ``nsexec`` process does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from skiff_common.observability.tracing import CachedTracer

from skiff_runtime.oci.cgroups import detect_driver
from skiff_runtime.oci.errors import (
    ContainerExists,
    ContainerNotFound,
    ExecutorError,
    InvalidBundle,
    InvalidState,
)
from skiff_runtime.oci.executor import shim_client
from skiff_runtime.oci.executor.api import ContainerState, ContainerStats, Status, register
from skiff_runtime.oci.executor.exec_client import exec_in_container
from skiff_runtime.oci.executor.shim_client import exited
from skiff_runtime.oci.executor.zygote_client import (
    ZygoteClient,
    ZygoteUnavailable,
    enabled_by_env,
    popen_detached,
    pythonpath,
    read_pipe,
)
from skiff_runtime.oci.spec import load_spec
from skiff_runtime.oci.wire import SHIM_LOG, CreateReply, Op, Record, exec_request, is_alive, read_record

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
UNKNOWN_EXIT = 255
log = logging.getLogger("skiff.oci.executor")
# The shim does not trace; its create is a span here, with its phases (reported in its answer) beneath.
_tracer = CachedTracer("skiff_runtime.oci.shim")


_SHIM = "skiff_runtime.oci.shim"  # python -m: the fallback when the factory cannot be used


def _to_state(rec: Record) -> ContainerState:
    status = Status(rec.status)
    if status is not Status.STOPPED and not is_alive(rec.shim_pid, rec.shim_start):
        # The shim is gone: trust /proc about the init, and we cannot know its exit status.
        if not is_alive(rec.pid, rec.pid_start):
            return ContainerState(
                rec.id, Status.STOPPED, 0, UNKNOWN_EXIT, False, rec.created_at, rec.started_at,
                rec.finished_at or time.time(),
            )  # fmt: skip
    return ContainerState(
        id=rec.id,
        status=status,
        pid=0 if status is Status.STOPPED else rec.pid,
        exit_code=rec.exit_code if status is Status.STOPPED else None,
        oom_killed=rec.oom_killed,
        created_at=rec.created_at,
        started_at=rec.started_at,
        finished_at=rec.finished_at if status is Status.STOPPED else None,
    )


class SkiffExecutor:
    name = "skiff"
    user_namespaces = True  # user namespaces with idmapped mounts (CRI RuntimeHandlerFeatures)

    def __init__(self, state_root: Path, *, use_zygote: bool | None = None) -> None:
        """use_zygote: fork shims from the shared factory (``shim/zygote.py``); None reads SKIFF_OCI_ZYGOTE."""
        self.state_root = Path(state_root)
        self.use_zygote = enabled_by_env() if use_zygote is None else use_zygote
        self.zygote = ZygoteClient(self.state_root)

    def _dir(self, container_id: str) -> Path:
        if not isinstance(container_id, str) or not _ID.match(container_id):
            raise InvalidBundle("container_id", "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
        return self.state_root / container_id

    def _shim_args(self) -> list[str]:
        """Extra shim flags; RuncExecutor selects the runc/crun backend here."""
        return []

    async def _runtime_delete(self, container_id: str) -> None:
        """Hook run after the shim is gone and before the cgroup is removed."""

    def _record(self, container_id: str) -> Record:
        rec = read_record(self._dir(container_id))
        if rec is None:
            raise ContainerNotFound(container_id)
        return rec

    async def create(self, container_id: str, bundle: Path, *, log_path: Path | None) -> ContainerState:
        state_dir = self._dir(container_id)
        self.state_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            state_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise ContainerExists(container_id) from None
        try:
            with _tracer.get().start_as_current_span("shim.create", attributes={"container.id": container_id}) as span:
                phases = await self._spawn_shim(container_id, Path(bundle), state_dir, log_path)
                if span.is_recording():
                    for name, began, ended in phases:
                        _tracer.get().start_span(name, start_time=began).end(end_time=ended)
        except BaseException:
            self._discard(container_id, state_dir)
            raise
        return await self.state(container_id)

    def _discard(self, container_id: str, state_dir: Path) -> None:
        """Undo a create that failed or was cancelled (synchronous: it runs while cancellation
        unwinds). Our end of the ready pipe is closed by now, so a shim that has not answered yet never
        will: it finds nobody listening and removes what it made itself. But one that answered "ok"
        just before the cancellation closed the pipe believes it was heard and would run on, with
        nobody knowing it: its record (written before the answer) names it, so stop it, its init and
        its cgroup here. Killing a shim that was exiting anyway (a failed create) is harmless."""
        rec = read_record(state_dir)
        if rec is not None and is_alive(rec.shim_pid, rec.shim_start):
            log.info("container %s: stopping the shim of a failed or cancelled create", container_id)
            os.kill(rec.shim_pid, signal.SIGKILL)
            if is_alive(rec.pid, rec.pid_start):
                os.kill(rec.pid, signal.SIGKILL)
            self._runtime_discard(container_id)
            driver = detect_driver()
            try:
                driver.kill_all(rec.cgroups_path)
                driver.remove(rec.cgroups_path)
            except OSError as e:
                log.warning("container %s: removing the cgroup of a discarded create: %s", container_id, e)
        shutil.rmtree(state_dir, ignore_errors=True)

    def _runtime_discard(self, container_id: str) -> None:
        """Synchronous counterpart of ``_runtime_delete`` for ``_discard``."""

    async def _spawn_shim(
        self, cid: str, bundle: Path, state_dir: Path, log_path: Path | None
    ) -> tuple[tuple[str, int, int], ...]:
        """Start the container's shim and wait for its answer; the phases it reports, when it made it."""
        ready_r, ready_w = os.pipe()
        args = ["--id", cid, "--bundle", str(bundle), "--state-dir", str(state_dir)]
        if log_path is not None:
            args += ["--log-path", str(log_path)]
        args += self._shim_args()
        proc: subprocess.Popen[bytes] | None = None
        try:
            try:
                if not self.use_zygote:
                    raise ZygoteUnavailable(f"disabled ({'SKIFF_OCI_ZYGOTE=0' if not enabled_by_env() else 'flag'})")
                await self.zygote.spawn(args, ready_w, state_dir / SHIM_LOG)
            except ZygoteUnavailable as e:
                log.debug("container %s: shim factory not used (%s): spawning python -m %s", cid, e, _SHIM)
                cmd = [sys.executable, "-m", _SHIM, *args, "--ready-fd", str(ready_w)]
                proc = popen_detached(cmd, state_dir / SHIM_LOG, ready_w)
        except BaseException:
            os.close(ready_r)
            raise
        finally:
            os.close(ready_w)
        try:
            raw = await read_pipe(ready_r)
        finally:
            if proc is not None:  # the first shim process exits right after daemonizing
                await asyncio.to_thread(proc.wait)
        reply = CreateReply.decode(raw)
        if reply is not None and reply.ok:
            return reply.phases
        if reply is not None and reply.field:
            raise InvalidBundle(reply.field, reply.reason)
        detail = (reply.error if reply else "") or (state_dir / SHIM_LOG).read_text(errors="replace")[-2000:]
        raise ExecutorError(f"create {cid}: {detail}")

    async def start(self, container_id: str) -> None:
        rec = self._record(container_id)
        if rec.status != "created":
            raise InvalidState(f"container {container_id!r} is {rec.status}, not created")
        with _tracer.get().start_as_current_span("shim.start", attributes={"container.id": container_id}):
            reply = await self._request(container_id, {"op": Op.START})
        if not reply.get("ok"):
            raise ExecutorError(f"start {container_id}: {reply.get('error')}")

    async def _request(self, container_id: str, msg: dict[str, object]) -> dict[str, object]:
        try:
            return await shim_client.request(self._dir(container_id), msg)
        except shim_client.ShimUnreachable as e:
            raise ExecutorError(f"shim of container {container_id!r} is not reachable: {e}") from None

    async def kill(self, container_id: str, signal: int) -> None:
        """Signal the init. Killing a stopped container is a no-op (idempotent StopContainer)."""
        state = await self.state(container_id)
        if state.status is Status.STOPPED:
            return
        try:
            await shim_client.request(self._dir(container_id), {"op": Op.KILL, "signal": signal})
        except shim_client.ShimUnreachable:
            rec = self._record(container_id)
            if is_alive(rec.pid, rec.pid_start):
                os.kill(rec.pid, signal)

    async def state(self, container_id: str) -> ContainerState:
        return _to_state(self._record(container_id))

    async def wait(self, container_id: str) -> ContainerState:
        while True:
            state = await self.state(container_id)
            if state.status is Status.STOPPED:
                return state
            try:
                await shim_client.request(self._dir(container_id), {"op": Op.WAIT}, timeout=None)
            except shim_client.ShimUnreachable:
                await asyncio.sleep(0.1)  # shim gone: poll /proc through state()

    async def delete(self, container_id: str) -> None:
        """Remove a stopped (or never started) container: shim, processes, cgroup, state dir.

        The native shim removes the cgroup itself when told to shut down (it says so in its answer)
        and exits right after answering; the state dir is then removed while it exits. Otherwise
        (shim gone, runc/crun, a removal that failed in the shim) the cgroup is removed here, after
        the shim is gone, and the state dir last, so a failed delete can be retried."""
        rec = self._record(container_id)
        if _to_state(rec).status is Status.RUNNING:
            raise InvalidState(f"container {container_id!r} is running; kill it first")
        state_dir = self._dir(container_id)
        cgroup_removed = False
        with contextlib.suppress(shim_client.ShimUnreachable):
            reply = await shim_client.request(state_dir, {"op": Op.SHUTDOWN})
            cgroup_removed = reply.get("cgroup_removed") is True
        if cgroup_removed:
            shutil.rmtree(state_dir, ignore_errors=True)
        if not await exited(rec.shim_pid, rec.shim_start, 2.0):
            os.kill(rec.shim_pid, signal.SIGKILL)
        if is_alive(rec.pid, rec.pid_start):
            os.kill(rec.pid, signal.SIGKILL)
        await self._runtime_delete(container_id)
        if not cgroup_removed:
            driver = detect_driver()
            await asyncio.to_thread(driver.kill_all, rec.cgroups_path)
            await asyncio.to_thread(driver.remove, rec.cgroups_path)
        shutil.rmtree(state_dir, ignore_errors=True)

    async def reopen_log(self, container_id: str) -> None:
        self._record(container_id)
        reply = await self._request(container_id, {"op": Op.REOPEN_LOG})
        if not reply.get("ok"):
            raise ExecutorError(f"reopen_log {container_id}: {reply.get('error')}")

    async def stats(self, container_id: str) -> ContainerStats:
        rec = self._record(container_id)
        s = await asyncio.to_thread(detect_driver().stats, rec.cgroups_path)
        return ContainerStats(
            cpu_usage_ns=s.cpu_usage_ns,
            memory_working_set_bytes=s.memory_working_set_bytes,
            memory_usage_bytes=s.memory_usage_bytes,
            timestamp=time.time(),
        )

    async def _check_exec(self, container_id: str, argv: list[str]) -> None:
        """What every exec needs first, whichever runtime runs it: a command and a running container."""
        if not argv:
            raise InvalidBundle("argv", "Required value: at least one argument")
        state = await self.state(container_id)
        if state.status is not Status.RUNNING:
            raise InvalidState(f"container {container_id!r} is {state.status.value}, not running")

    async def exec_sync(
        self,
        container_id: str,
        argv: list[str],
        *,
        env: list[str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the boundary's contract (api.py)
    ) -> tuple[int, bytes, bytes]:
        """Run argv inside the container; raises TimeoutError (after killing it) when timeout expires."""
        await self._check_exec(container_id, argv)
        rec = self._record(container_id)
        spec = load_spec(Path(rec.bundle))
        request = exec_request(rec, spec, argv, [*spec.process.env, *(env or [])])
        env_for_helper = {**os.environ, "PYTHONPATH": pythonpath()}
        return await exec_in_container(self._dir(container_id), request, timeout, env_for_helper)


def _new(name: str, state_root: Path) -> SkiffExecutor:
    return SkiffExecutor(state_root)


register("skiff", _new)
