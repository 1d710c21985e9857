"""The shim's runc/crun backend: an OCI runtime binary (``runc`` or ``crun``) does the isolation.

Same shim, same record, same control socket, same CRI logs; only "create the isolated process" and
"start it" change, playing containerd-shim-runc-v2's role:

- the shim makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``) *before* running
  ``<runtime> create``: the runtime forks the container init and exits, and the orphaned init is
  re-parented to us, so the supervisor can ``waitpid`` it for the exit status exactly as in native mode;
- in detached, non-terminal mode the runtime hands its own stdio to the container, so running it with
  stdout/stderr set to the log pipes is all the log plumbing needed;
- ``start`` runs ``<runtime> start <id>``; the runtime's exec fifo is its own start handshake.

The runtime keeps its state under ``--runtime-root`` (``<state_root>/.runtime-<name>``), separate from
ours; ``RuncExecutor.delete`` runs ``<runtime> delete --force`` to clean it up. How the binary is
called (and wrapped for crun on hybrid cgroup hosts) is ``oci/runc_cli.py``, shared with the executor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
from pathlib import Path

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import host_driver
from skiff_runtime.oci.runc_cli import runtime_argv
from skiff_runtime.oci.shim.answer import created_record, failure, report
from skiff_runtime.oci.shim.supervisor import Supervisor
from skiff_runtime.oci.spec import load_spec
from skiff_runtime.oci.stdio import empty_stdin
from skiff_runtime.oci.wire import write_record


class RuntimeStarter:
    def __init__(self, binary: str, root: str, container_id: str) -> None:
        self.cmd = runtime_argv(binary, root, "start", container_id)

    async def __call__(self) -> str | None:
        proc = await asyncio.create_subprocess_exec(
            *self.cmd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await proc.communicate()
        return None if proc.returncode == 0 else out.decode(errors="replace").strip() or "start failed"


def _drain(fd: int) -> str:
    os.set_blocking(fd, False)
    try:
        return os.read(fd, 65536).decode(errors="replace").strip()
    except BlockingIOError:
        return ""


def create_with_runtime(args: argparse.Namespace) -> Supervisor | None:
    """The container created by the runtime binary and waiting in its exec fifo, with its record
    written; None once a failure was answered on the ready fd (``args.ready_fd``)."""
    try:
        spec = load_spec(Path(args.bundle))
        driver = host_driver()
        sc.prctl(sc.PR_SET_CHILD_SUBREAPER, 1)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        pid_file = Path(args.state_dir) / "init.pid"
        cmd = runtime_argv(
            args.runtime, args.runtime_root, "create", "--bundle", args.bundle, "--pid-file", str(pid_file), args.id
        )
        stdin = empty_stdin()  # never the host's /dev/null: crun chowns it (oci/stdio.py)
        try:
            result = subprocess.run(cmd, stdin=stdin, stdout=out_w, stderr=err_w, timeout=60)
        finally:
            os.close(stdin)
        os.close(out_w)
        os.close(err_w)
        if result.returncode != 0:
            detail = _drain(err_r) or _drain(out_r) or f"exit status {result.returncode}"
            raise RuntimeError(f"{os.path.basename(args.runtime)} create failed: {detail}")
        # runc's cgroupfs default when cgroupsPath is empty is "/<id>".
        rec = created_record(args, int(pid_file.read_text()), spec.cgroups_path or f"/{args.id}")
        write_record(Path(args.state_dir), rec)
        starter = RuntimeStarter(args.runtime, args.runtime_root, args.id)
        return Supervisor(
            Path(args.state_dir), rec, driver, stdout=out_r, stderr=err_r, starter=starter, owns_cgroup=False
        )
    except Exception as e:
        why = failure(e)
    cleanup = runtime_argv(args.runtime, args.runtime_root, "delete", "--force", args.id)
    subprocess.run(cleanup, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report(args.ready_fd, why)
    return None
