"""Pod namespaces that outlive any process: bind mounts of nsfs files under the runtime's run root.

containerd keeps a pause process to hold a pod's namespaces; we keep none. A network, IPC or UTS
namespace lives as long as something references it, and a bind mount of /proc/<pid>/ns/<kind> is such a
reference. util-linux `unshare --net=FILE --ipc=FILE --uts=FILE` does exactly this: it creates the
namespaces, bind-mounts them onto FILE, and exits. It runs a one-line Python to set the pod's hostname in
the new UTS namespace before it goes (sethostname is per-UTS-namespace). Containers then join these paths
through `linux.namespaces[].path` in their OCI spec; removal is umount + unlink.

A pod with its own user namespace (CRI ``userns_options`` mode POD) gets it pinned the same way, and its
network, IPC and UTS namespaces are created *inside* it (owned by it), so the pod's root may bind low
ports and mount sysfs for its network namespace. util-linux's ``unshare --map-users`` needs the
``newuidmap`` helper, so ``skiff_runtime.oci.userns`` does it in a child Python (the daemon runs threads
and must not fork itself), started with ``-S``: it needs nothing from site-packages, and skipping
``site`` saves ~100 ms per pod.

A PID namespace cannot be kept this way (it dies with its init process), which is why pod-shared PID
namespaces are not offered; see the spec builder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from skiff_runtime.images.snapshots import mount, unmount

MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
KINDS = ("net", "ipc", "uts")
_DIRS = {"net": "netns", "ipc": "ipcns", "uts": "utsns", "user": "userns"}
_SETHOSTNAME = "import socket, sys; socket.sethostname(sys.argv[1])"
_PIN = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from skiff_runtime.oci.userns import main; sys.exit(main(sys.argv[2]))"
)
_PKG_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding skiff_runtime


class NamespaceError(RuntimeError):
    pass


def ns_path(run_root: Path, kind: str, sandbox_id: str) -> Path:
    return run_root / _DIRS[kind] / sandbox_id


def create(
    run_root: Path,
    sandbox_id: str,
    kinds: list[str],
    hostname: str,
    id_maps: tuple[list[list[int]], list[list[int]]] | None = None,
) -> dict[str, Path]:
    """Create and pin the given namespaces; returns kind -> path. Cleans up after itself on failure.
    With ``id_maps`` (uid maps, gid maps as [container_id, host_id, size]) a user namespace too, which
    owns the others."""
    if id_maps is not None:
        kinds = ["user", *kinds]
    paths = {kind: ns_path(run_root, kind, sandbox_id) for kind in kinds}
    if not paths:
        return {}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    if id_maps is not None:
        req = {
            "paths": {kind: str(path) for kind, path in paths.items()},
            "uid_maps": [{"containerID": c, "hostID": h, "size": n} for c, h, n in id_maps[0]],
            "gid_maps": [{"containerID": c, "hostID": h, "size": n} for c, h, n in id_maps[1]],
            "hostname": hostname,
        }
        argv = [sys.executable, "-S", "-c", _PIN, _PKG_ROOT, json.dumps(req)]
    else:
        argv = _unshare_argv(paths, hostname)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        remove(paths.values())
        raise NamespaceError(f"creating namespaces {sorted(paths)} failed: {proc.stderr.strip()}")
    return paths


def _unshare_argv(paths: dict[str, Path], hostname: str) -> list[str]:
    argv = ["unshare", *(f"--{kind}={path}" for kind, path in paths.items()), "--"]
    if "uts" in paths and hostname:
        argv += [sys.executable, "-c", _SETHOSTNAME, hostname]
    else:
        argv += ["true"]
    return argv


def remove(paths: Iterable[str | Path]) -> None:
    """Unmount and delete namespace files. Idempotent; missing (empty) paths are fine."""
    for name in paths:
        if not name:
            continue
        path = Path(name)
        unmount(path)
        path.unlink(missing_ok=True)


def is_pinned(path: str) -> bool:
    return bool(path) and os.path.ismount(path)


def mount_shm(target: Path) -> None:
    """A pod-wide /dev/shm, bind-mounted into each container, so containers sharing IPC share shm too."""
    target.mkdir(parents=True, exist_ok=True)
    if not os.path.ismount(target):
        mount("shm", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")


def unmount_shm(target: Path) -> None:
    if target.exists():
        unmount(target)
        target.rmdir()
