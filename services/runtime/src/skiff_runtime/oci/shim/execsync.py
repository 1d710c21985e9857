"""``exec`` requests served by the shim itself: no Python start-up per probe.

The shim already sits where an exec'd process must start: it created the container's pid namespace
with ``unshare(CLONE_NEWPID)`` (or joined it), so *every* child it forks is born inside that pid
namespace. A forked child then only has to join the cgroup and ``setns`` into the other namespaces
(``nsexec.enter_namespaces``; it is single-threaded, as ``setns(CLONE_NEWNS)`` requires) and
``become`` the container process (credentials, capabilities, cwd, exec). Exec probes run every few
seconds per container, so skipping a ~100-300 ms interpreter start each time matters on small nodes.

Output is collected from pipes on the shim's event loop (capped at 16 MiB per stream) and returned
base64-encoded in the JSON reply. On timeout, or if the caller hangs up first, the process is
SIGKILLed and reaped. Failures before exec exit 126 (setup) / 127 (not found), like ``nsexec``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
from typing import Any, NoReturn

from skiff_runtime.oci.cgroups import CgroupDriver
from skiff_runtime.oci.shim.nsexec import become, enter_namespaces
from skiff_runtime.oci.stdio import empty_stdin

OUTPUT_CAP = 16 << 20


def _child(req: dict[str, Any], out_w: int, err_w: int, driver: CgroupDriver, cgroups_path: str) -> NoReturn:
    try:
        stdin = empty_stdin()  # not the host's /dev/null (oci/stdio.py)
        os.dup2(stdin, 0)
        os.close(stdin)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        # Everything else is the shim's (epoll, sockets, log file): none of it belongs in the container.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        driver.add_process(cgroups_path, 0)
        enter_namespaces(int(req["pid"]))
    except BaseException as e:
        os.write(2, f"skiff exec: {e}\n".encode(errors="replace"))
        os._exit(126)
    become(req, None)


async def run_exec(
    req: dict[str, Any],
    limit: float | None,
    driver: CgroupDriver,
    cgroups_path: str,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child(req, out_w, err_w, driver, cgroups_path)
    os.close(out_w)
    os.close(err_w)
    buffers: dict[int, bytearray] = {out_r: bytearray(), err_r: bytearray()}
    open_pipes = set(buffers)
    drained = asyncio.Event()

    def readable(fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            room = OUTPUT_CAP - len(buffers[fd])
            buffers[fd] += data[: max(room, 0)]
            return
        loop.remove_reader(fd)
        open_pipes.discard(fd)
        if not open_pipes:
            drained.set()

    for fd in buffers:
        os.set_blocking(fd, False)
        loop.add_reader(fd, readable, fd)
    exited: asyncio.Future[int] = loop.create_future()
    pidfd = os.pidfd_open(pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        exited.set_result(128 - code if code < 0 else code)

    loop.add_reader(pidfd, reap)
    timed_out = False
    try:
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow the cancellation that a
            # caller's hang-up sends, at the very moment the command exits, leaving no one to kill it.
            async with asyncio.timeout(limit):
                code = await asyncio.shield(exited)
        except TimeoutError:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            code = await exited
        # Orphans of the command (background jobs) may hold the pipes: don't wait for them long.
        try:
            async with asyncio.timeout(1.0):
                await drained.wait()
        except TimeoutError:
            pass
    except asyncio.CancelledError:  # the caller hung up: the command must not outlive the request
        if not exited.done():
            os.kill(pid, signal.SIGKILL)
            await exited
        raise
    finally:
        for fd in open_pipes:
            loop.remove_reader(fd)
        for fd in buffers:
            os.close(fd)
        os.close(pidfd)
    if timed_out:
        return {"ok": False, "timeout": True, "error": f"exec timed out after {limit}s"}
    return {
        "ok": True,
        "exit_code": code,
        "stdout": base64.b64encode(bytes(buffers[out_r])).decode(),
        "stderr": base64.b64encode(bytes(buffers[err_r])).decode(),
    }
