"""``RuncExecutor``: the same executor interface, with ``runc`` or ``crun`` doing the isolation.

Everything stateful is shared with ``SkiffExecutor`` (the shim, its state file and socket, CRI logs,
OOM detection, stats, restart-safety); this class only selects the shim's runtime backend, runs
``<runtime> delete --force`` on delete, and implements ``exec_sync`` with ``<runtime> exec``.
Useful as a reference implementation to compare our executor against, and as a fallback.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from pathlib import Path

from skiff_runtime.oci.errors import ExecutorError, InvalidBundle, InvalidState
from skiff_runtime.oci.executor import Status
from skiff_runtime.oci.runc_backend import runtime_argv
from skiff_runtime.oci.spec import load_spec
from skiff_runtime.oci.skiff_executor import SkiffExecutor


class RuncExecutor(SkiffExecutor):
    def __init__(self, name: str, state_root: Path) -> None:
        super().__init__(state_root)
        binary = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if binary is None:
            raise ExecutorError(f"executor {name!r}: binary not found (apt-get install {name})")
        self.name = name
        self.binary = binary
        self.runtime_root = str(self.state_root / f".runtime-{name}")

    def _shim_args(self) -> list[str]:
        return ["--runtime", self.binary, "--runtime-root", self.runtime_root]

    async def _run(self, *args: str) -> tuple[int, bytes]:
        proc = await asyncio.create_subprocess_exec(
            *runtime_argv(self.binary, self.runtime_root, *args),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return proc.returncode or 0, out

    async def _runtime_delete(self, container_id: str) -> None:
        code, out = await self._run("delete", "--force", container_id)
        if code != 0 and b"does not exist" not in out and b"not found" not in out.lower():
            raise ExecutorError(f"{self.name} delete {container_id}: {out.decode(errors='replace').strip()}")

    async def exec_sync(
        self,
        container_id: str,
        argv: list[str],
        *,
        env: list[str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the boundary's contract (SPEC-RUNTIME.md)
    ) -> tuple[int, bytes, bytes]:
        if not argv:
            raise InvalidBundle("argv", "Required value: at least one argument")
        state = await self.state(container_id)
        if state.status is not Status.RUNNING:
            raise InvalidState(f"container {container_id!r} is {state.status.value}, not running")
        pid_file = self._dir(container_id) / f"exec-{os.urandom(4).hex()}.pid"
        cmd = ["exec", "--pid-file", str(pid_file)]
        # runc adds --env to the container's environment, crun replaces it (no PATH: "sh not found"):
        # passing the config's env first, then the extras, gives both the same result (last one wins).
        spec_env = list(load_spec(Path(self._record(container_id).bundle)).process.env)
        for item in spec_env + list(env or []):
            cmd += ["--env", item]
        proc = await asyncio.create_subprocess_exec(
            *runtime_argv(self.binary, self.runtime_root, *cmd, container_id, *argv),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            # Killing the runtime client would orphan the command inside the container: kill it by pid.
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                proc.kill()
            await proc.communicate()
            raise TimeoutError(f"exec in {container_id} timed out after {timeout}s") from None
        finally:
            pid_file.unlink(missing_ok=True)
        rc = proc.returncode or 0
        return (128 - rc if rc < 0 else rc), out, err
