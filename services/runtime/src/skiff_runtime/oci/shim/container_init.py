"""The container init: runs in the child the shim forks, turns it into the container, then execs.

The shim has already entered/created the pid namespace for its children (``unshare(CLONE_NEWPID)`` or
``setns`` affect only *children*), so this process is PID 1 of the container. Here we:

1. wire stdio (stdin an empty pipe, ``oci/stdio.py``; stdout/stderr the shim's log pipes) and close every other fd;
2. ``setns`` into namespaces given by ``path`` (the pod sandbox's net/ipc/uts), ``unshare`` the rest
   except cgroup;
3. build the rootfs and ``pivot_root`` (``rootfs.py``); before the first cgroup mount, or after
   ``pivot_root`` if there is none, pass the ``CgroupGate``: wait on the cgroup pipe until the shim
   has put us in the container's cgroup, then ``unshare`` the cgroup namespace (its root is the
   cgroup we are in at that moment, so this order matters). The shim writes our pid to
   ``cgroup.procs`` from outside, in parallel with steps 1-3: on cgroup v1 that write waits 6-20 ms
   for the kernel (an RCU grace period), which used to be paid serially in here. Until the gate the
   init runs only our own code (no container binary), so being briefly outside its cgroup is harmless;
4. set the hostname, mask/read-only paths;
5. namespaced sysctls (before ``/proc/sys`` turns read-only); rlimits, ``oom_score_adj`` and
   ``no_new_privs`` while still fully privileged;
6. **the start handshake**: write ``R`` on the sync pipe, then block reading the start pipe. The shim
   writes ``S`` when ``start`` is requested. EOF instead means the shim died or gave up: exit quietly;
7. join the user namespace, if any (``userns.py``: everything above ran as the host's root), load
   the seccomp filter (``oci/seccomp.py``), drop privileges (``caps.py``), ``chdir(cwd)`` as
   the target user, reset signal dispositions
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

from skiff_runtime.oci import seccomp
from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.caps import drop_privileges
from skiff_runtime.oci.jsonfields import env_dict
from skiff_runtime.oci.shim.rootfs import finalize_rootfs, setup_rootfs
from skiff_runtime.oci.shim.userns import ContainerUserns
from skiff_runtime.oci.spec import Spec
from skiff_runtime.oci.stdio import empty_stdin


def _close_fds(keep: set[int]) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class CgroupGate:
    """Waits (once) until the shim says we are in the container's cgroup ("C"), then unshares the
    cgroup namespace if the spec asks for a new one: its root is the cgroup we are in at that moment,
    so this order matters. EOF instead of "C": the shim failed or died (it kills us on failure
    anyway), so leave quietly."""

    def __init__(self, cgroup_r: int, new_cgroup_ns: bool) -> None:
        self.cgroup_r = cgroup_r
        self.new_cgroup_ns = new_cgroup_ns
        self.passed = False

    def __call__(self) -> None:
        if self.passed:
            return
        if os.read(self.cgroup_r, 1) != b"C":
            os._exit(0)
        os.close(self.cgroup_r)
        if self.new_cgroup_ns:
            sc.unshare(sc.CLONE_NEWCGROUP)
        self.passed = True


def enter_namespaces(spec: Spec) -> bool:
    """setns for path-given namespaces (pid is the shim's job; user comes last, ``ContainerUserns``),
    then one unshare for the new ones except cgroup (``CgroupGate``). True when a new cgroup namespace
    is still to be made."""
    new_flags = 0
    for ns in spec.namespaces:
        flag, _ = sc.NAMESPACES[ns.type]
        if ns.type in ("pid", "user"):
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
    if new_flags & ~sc.CLONE_NEWCGROUP:
        sc.unshare(new_flags & ~sc.CLONE_NEWCGROUP)
    return bool(new_flags & sc.CLONE_NEWCGROUP)


def run_init(
    spec: Spec,
    *,
    stdout: int,
    stderr: int,
    sync_w: int,
    start_r: int,
    cgroup_r: int,
) -> NoReturn:
    try:
        stdin = empty_stdin()  # not the host's /dev/null, which the container could chmod (oci/stdio.py)
        os.dup2(stdin, 0)
        os.close(stdin)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        _close_fds({sync_w, start_r, cgroup_r})
        os.setsid()  # own session and process group, apart from the shim's (as runc does)
        users = ContainerUserns(spec)  # opened before any setns: its path is the host's
        gate = CgroupGate(cgroup_r, enter_namespaces(spec))
        setup_rootfs(spec, gate, users)  # enters the gate before a cgroup mount, if any
        gate()
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
        users.join()  # after it we hold every capability in the user namespace, none outside
        seccomp.apply(spec.seccomp)  # still holding CAP_SYS_ADMIN: no need for no_new_privs
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
