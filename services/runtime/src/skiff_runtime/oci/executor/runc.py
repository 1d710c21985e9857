"""``RuncExecutor``: the same executor interface, with ``runc`` or ``crun`` doing the isolation.

Everything stateful is shared with ``SkiffExecutor`` (the shim, its state file and socket, CRI logs,
OOM detection, stats, restart-safety); this class only selects the shim's runtime backend, runs
``<runtime> delete --force`` on delete, and implements ``exec_sync`` with ``<runtime> exec``.
Idmapped mounts (``mounts[].uidMappings``, user-namespace pods) need runc >= 1.2 (its ``features`` say
``mountExtensions.idmap``) or crun: an older runc would silently make a plain bind mount, so such a
bundle is refused with the reason instead.
Useful as a reference implementation to compare our executor against, and as a fallback.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from skiff_runtime.oci.errors import ExecutorError, InvalidBundle
from skiff_runtime.oci.executor.api import ContainerState, register
from skiff_runtime.oci.executor.skiff import SkiffExecutor
from skiff_runtime.oci.runc_cli import runtime_argv
from skiff_runtime.oci.stdio import empty_stdin


class RuncExecutor(SkiffExecutor):
    def __init__(self, name: str, state_root: Path) -> None:
        super().__init__(state_root)
        binary = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")
        if binary is None:
            raise ExecutorError(f"executor {name!r}: binary not found (apt-get install {name})")
        self.name = name
        self.binary = binary
        self.runtime_root = str(self.state_root / f".runtime-{name}")
        self.user_namespaces = _supports_idmapped_mounts(binary, name)

    async def create(self, container_id: str, bundle: Path, *, log_path: Path | None) -> ContainerState:
        if not self.user_namespaces:
            try:
                mounts = json.loads((bundle / "config.json").read_text()).get("mounts") or []
            except (OSError, ValueError, AttributeError):
                mounts = []  # the shim reports an unreadable bundle with its field
            for i, m in enumerate(mounts):
                if isinstance(m, dict) and (m.get("uidMappings") or m.get("gidMappings")):
                    reason = f"{self.binary} cannot make idmapped mounts (runc >= 1.2 or crun can)"
                    raise InvalidBundle(f"mounts[{i}].uidMappings", reason)
        return await super().create(container_id, bundle, log_path=log_path)

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

    def _runtime_discard(self, container_id: str) -> None:
        argv = runtime_argv(self.binary, self.runtime_root, "delete", "--force", container_id)
        subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, check=False, timeout=30)

    async def _runtime_delete(self, container_id: str) -> None:
        code, out = await self._run("delete", "--force", container_id)
        if code != 0 and b"does not exist" not in out and b"not found" not in out.lower():
            raise ExecutorError(f"{self.name} delete {container_id}: {out.decode(errors='replace').strip()}")

    def _exec_process(self, container_id: str, argv: list[str], env: list[str]) -> dict[str, Any]:
        """The container's own ``process`` object with argv replaced and env extended.

        Passed as ``exec --process FILE`` (as containerd does) rather than ``--env``/``--user`` flags:
        runc and crun disagree on flag defaults (crun's ``--env`` replaces the environment and its
        exec runs as uid 0 unless told), while a full process object means the same to both: the
        config's user with its additional groups, capabilities, no_new_privs, rlimits, cwd.
        """
        config = json.loads((Path(self._record(container_id).bundle) / "config.json").read_text())
        process = dict(config.get("process") or {})
        process.pop("consoleSize", None)
        process.update(args=list(argv), env=[*process.get("env", []), *env], terminal=False)
        return process

    async def exec_sync(
        self,
        container_id: str,
        argv: list[str],
        *,
        env: list[str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the boundary's contract (api.py)
    ) -> tuple[int, bytes, bytes]:
        await self._check_exec(container_id, argv)
        token = os.urandom(4).hex()
        pid_file = self._dir(container_id) / f"exec-{token}.pid"
        process_file = self._dir(container_id) / f"exec-{token}.json"
        process_file.write_text(json.dumps(self._exec_process(container_id, argv, env or [])))
        cmd = ["exec", "--process", str(process_file), "--pid-file", str(pid_file), container_id]
        stdin = empty_stdin()  # never the host's /dev/null: crun chowns it (oci/stdio.py)
        try:
            proc = await asyncio.create_subprocess_exec(
                *runtime_argv(self.binary, self.runtime_root, *cmd),
                stdin=stdin,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        finally:
            os.close(stdin)
        try:
            async with asyncio.timeout(timeout):
                out, err = await proc.communicate()
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
            process_file.unlink(missing_ok=True)
        rc = proc.returncode or 0
        return (128 - rc if rc < 0 else rc), out, err


def _supports_idmapped_mounts(binary: str, name: str) -> bool:
    """``<runtime> features`` (runc >= 1.1) lists ``linux.mountExtensions.idmap`` from runc 1.2; crun has
    had idmapped mounts since long before it printed features."""
    try:
        out = subprocess.run([binary, "features"], capture_output=True, text=True, timeout=10, check=False).stdout
        idmap = json.loads(out).get("linux", {}).get("mountExtensions", {}).get("idmap", {})
        return bool(idmap.get("enabled"))
    except (OSError, ValueError, AttributeError, subprocess.TimeoutExpired):
        return name == "crun"


register("runc", RuncExecutor)
register("crun", RuncExecutor)
