"""How ``runc``/``crun`` are invoked: shared by the daemon's ``RuncExecutor`` (delete, exec) and the
shim's runc backend (create, start), so both run the binary the same way.

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

import os
import shutil

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
