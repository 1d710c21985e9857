"""The container init: runs in the child the shim forks, turns it into the container, then execs.

The shim has already entered/created the pid namespace for its children (``unshare(CLONE_NEWPID)`` or
``setns`` affect only *children*), so this process is PID 1 of the container. Here we:

1. wire stdio (stdin ``/dev/null``; stdout/stderr the shim's log pipes) and close every other fd;
2. join the cgroup (writing ``0`` to ``cgroup.procs`` means "me" and works from inside a pid ns);
3. ``setns`` into namespaces given by ``path`` (the pod sandbox's net/ipc/uts), ``unshare`` the rest;
4. build the rootfs and ``pivot_root`` (``rootfs.py``), set the hostname, mask/read-only paths;
5. namespaced sysctls (before ``/proc/sys`` turns read-only); rlimits, ``oom_score_adj`` and
   ``no_new_privs`` while still fully privileged;
6. **the start handshake**: write ``R`` on the sync pipe, then block reading the start pipe. The shim
   writes ``S`` when ``start`` is requested. EOF instead means the shim died or gave up: exit quietly;
7. drop privileges (``caps.py``), ``chdir(cwd)`` as the target user, reset signal dispositions
   (Python ignores SIGPIPE; ignored signals survive exec), ``execvpe``.

Any exception is sent as ``E<message>`` on the sync pipe and the process exits 127. The sync pipe is
close-on-exec, so after a successful ``execve`` the shim simply reads EOF: that is how ``start`` tells
"exec failed (ENOENT, EACCES...)" from "the program is running", like runc's exec fifo.
"""

from __future__ import annotations

import os
import resource
import traceback
from typing import NoReturn

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.caps import drop_privileges
from skiff_runtime.oci.cgroups import CgroupDriver
from skiff_runtime.oci.jsonfields import env_dict
from skiff_runtime.oci.rootfs import finalize_rootfs, setup_rootfs
from skiff_runtime.oci.spec import Spec


def _close_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def enter_namespaces(spec: Spec) -> None:
    """setns for path-given namespaces (pid is the shim's job), then one unshare for the new ones."""
    new_flags = 0
    for ns in spec.namespaces:
        flag, _ = sc.NAMESPACES[ns.type]
        if ns.type == "pid":
            continue
        if ns.path:
            fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.setns(fd, flag)
            except OSError as e:
                raise OSError(e.errno, f"joining {ns.type} namespace {ns.path}: {e.strerror}") from None
            finally:
                os.close(fd)
        else:
            new_flags |= flag
    if new_flags:
        sc.unshare(new_flags)


def run_init(
    spec: Spec,
    driver: CgroupDriver,
    cgroups_path: str,
    *,
    stdout: int,
    stderr: int,
    sync_w: int,
    start_r: int,
) -> NoReturn:
    try:
        devnull = os.open("/dev/null", os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        _close_fds({sync_w, start_r})
        os.setsid()  # own session and process group, apart from the shim's (as runc does)
        driver.add_process(cgroups_path, 0)
        enter_namespaces(spec)
        setup_rootfs(spec)
        uts = spec.namespace("uts")
        if spec.hostname and uts is not None and not uts.path:
            sc.sethostname(spec.hostname)
        for key, value in spec.sysctl:  # before finalize_rootfs makes /proc/sys read-only
            with open(f"/proc/sys/{key.replace('.', '/')}", "w") as f:
                f.write(value)
        finalize_rootfs(spec)
        for number, soft, hard in spec.process.rlimits:
            resource.setrlimit(number, (soft, hard))
        if spec.process.oom_score_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(spec.process.oom_score_adj))
        if spec.process.no_new_privileges:
            sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
        os.write(sync_w, b"R")
        if os.read(start_r, 1) != b"S":
            os._exit(0)
        os.close(start_r)
        p = spec.process
        drop_privileges(
            uid=p.uid,
            gid=p.gid,
            additional_gids=p.additional_gids,
            bounding=p.bounding,
            effective=p.effective,
            permitted=p.permitted,
            inheritable=p.inheritable,
            ambient=p.ambient,
        )
        os.umask(p.umask)
        os.chdir(p.cwd)
        sc.reset_signals()
        env = env_dict(p.env)
        try:
            os.execvpe(p.args[0], list(p.args), env)
        except OSError as e:
            raise OSError(e.errno, f"exec {p.args[0]!r}: {e.strerror}") from None
    except BaseException as e:
        detail = f"{e}" if isinstance(e, OSError) else "".join(traceback.format_exception_only(e)).strip()
        try:
            os.write(sync_w, b"E" + detail.encode(errors="replace"))
        finally:
            os._exit(127)
