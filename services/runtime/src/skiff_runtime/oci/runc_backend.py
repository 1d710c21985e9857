"""Shim backend that delegates isolation to an OCI runtime binary (``runc`` or ``crun``).

Same shim, same state file, same control socket, same CRI logs; only "create the isolated process"
and "start it" change, playing containerd-shim-runc-v2's role:

- the shim makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``) *before* running
  ``<runtime> create``: the runtime forks the container init and exits, and the orphaned init is
  re-parented to us, so the supervisor can ``waitpid`` it for the exit status exactly as in native mode;
- in detached, non-terminal mode the runtime hands its own stdio to the container, so running it with
  stdout/stderr set to the log pipes is all the log plumbing needed;
- ``start`` runs ``<runtime> start <id>``; the runtime's exec fifo is its own start handshake.

The runtime keeps its state under ``--runtime-root`` (``<state_root>/.runtime-<name>``), separate from
ours; ``RuncExecutor.delete`` runs ``<runtime> delete --force`` to clean it up.

crun on a hybrid cgroup host (v1 controllers plus a cgroup2 tree at ``/sys/fs/cgroup/unified``) refuses
to run ("cgroups in hybrid mode not supported"). ``runtime_argv`` then wraps *every* crun invocation
(create, start, exec, delete) in a short-lived private mount namespace where that one mount is gone:
``unshare --mount --propagation private sh -c 'umount /sys/fs/cgroup/unified; exec crun ...'``.
crun then sees plain v1, which is what our v1 driver manages too. Per invocation and never for the
long-lived shim on purpose: a private mount namespace held by a process that outlives the call would
keep copies of every mount that existed when it was made (other pods' rootfs overlays, pinned netns
files), so their later unmounts on the host would not free them. The container's own mount namespace is
cloned from the wrapper's, but pivot_root detaches the old root, so nothing is held there either.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import time
import traceback
from pathlib import Path

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.cgroups import CgroupDriver, host_driver
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.shim import report
from skiff_runtime.oci.spec import load_spec
from skiff_runtime.oci.state import Record, start_time, write_record
from skiff_runtime.oci.supervisor import Supervisor

HYBRID_UNIFIED = "/sys/fs/cgroup/unified"
# "$0" is the runtime binary, "$@" its arguments: no quoting of caller data into the script.
_UNMOUNT_THEN_EXEC = f'umount {HYBRID_UNIFIED} && exec "$0" "$@"'


def needs_private_cgroup_view(binary: str) -> bool:
    """crun + a cgroup2 tree mounted beside the v1 hierarchies (checked per call: cheap, and the host
    can change under a long-running service)."""
    return os.path.basename(binary) == "crun" and os.path.ismount(HYBRID_UNIFIED)


def runtime_argv(binary: str, root: str, *args: str) -> list[str]:
    """The command line for ``<binary> --root <root> <args...>``, wrapped for crun on hybrid hosts."""
    cmd = [binary, "--root", root, *args]
    if needs_private_cgroup_view(binary):
        unshare = shutil.which("unshare") or "/usr/bin/unshare"
        return [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", _UNMOUNT_THEN_EXEC, *cmd]
    return cmd


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


def create_with_runtime(args: argparse.Namespace) -> tuple[Supervisor, int] | None:
    ready = args.ready_fd
    driver: CgroupDriver | None = None
    failure: dict[str, object]
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
        result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, timeout=60)
        os.close(out_w)
        os.close(err_w)
        if result.returncode != 0:
            detail = _drain(err_r) or _drain(out_r) or f"exit status {result.returncode}"
            raise RuntimeError(f"{os.path.basename(args.runtime)} create failed: {detail}")
        pid = int(pid_file.read_text())
        rec = Record(
            id=args.id,
            bundle=str(Path(args.bundle).resolve()),
            status="created",
            pid=pid,
            pid_start=start_time(pid) or 0,
            shim_pid=os.getpid(),
            shim_start=start_time(os.getpid()) or 0,
            # runc's cgroupfs default when cgroupsPath is empty is "/<id>".
            cgroups_path=spec.cgroups_path or f"/{args.id}",
            log_path=args.log_path,
            created_at=time.time(),
        )
        write_record(Path(args.state_dir), rec)
        starter = RuntimeStarter(args.runtime, args.runtime_root, args.id)
        sup = Supervisor(
            Path(args.state_dir), rec, driver, stdout=out_r, stderr=err_r, starter=starter, owns_cgroup=False
        )
        return sup, ready
    except InvalidBundle as e:
        failure = {"ok": False, "kind": "invalid", "field": e.field, "reason": e.reason}
    except Exception as e:
        traceback.print_exc()
        failure = {"ok": False, "kind": "error", "error": str(e)}
    cleanup = runtime_argv(args.runtime, args.runtime_root, "delete", "--force", args.id)
    subprocess.run(cleanup, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report(ready, failure)
    return None
