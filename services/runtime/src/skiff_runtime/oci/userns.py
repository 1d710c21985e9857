"""User namespaces: id mappings, and a user namespace made on demand (shared by the shim and the sandbox).

A pod with ``hostUsers: false`` runs in a user namespace whose root is an unprivileged host user: the
kubelet gives each pod 65536 ids, mapped ``0 <base> 65536``. Its maps are written from outside by a
process privileged in the parent namespace (root here), so no ``setgroups deny`` is needed, and the
container keeps setgroups(2) for its supplementary groups.

``spawned`` forks a child that unshares ``CLONE_NEWUSER`` together with any namespaces that must be
owned by the new user namespace (a pod's network namespace must be, or its root could not bind port 80
nor mount sysfs); the parent writes the maps and uses ``/proc/<child>/ns/*`` while the child waits:
opens an fd (``open_userns``, for ``mount_setattr(MOUNT_ATTR_IDMAP)`` and for the container init to
join at the end) or bind-mounts them to pin them (``pin``, for the pod sandbox). The child then exits;
the namespaces live on through the fd or the bind mount. Forking is only safe in a single-threaded
process: the container init, and ``python -m skiff_runtime.oci.userns`` which the (threaded) runtime
daemon runs once per sandbox.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.errors import InvalidBundle

IDMap = tuple[int, int, int]  # (container_id, host_id, size): the OCI runtime-spec's order
MAX_ID = 2**32 - 1


def parse(raw: Any, where: str) -> tuple[IDMap, ...]:
    """OCI ``[{"containerID", "hostID", "size"}]`` -> validated tuples."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidBundle(where, "must be a list")
    out: list[IDMap] = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict):
            raise InvalidBundle(f"{where}[{i}]", "must be an object")
        vals = []
        for key in ("containerID", "hostID", "size"):
            v = m.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_ID:
                raise InvalidBundle(f"{where}[{i}].{key}", "must be an integer between 0 and 4294967295")
            vals.append(v)
        if vals[2] == 0:
            raise InvalidBundle(f"{where}[{i}].size", "must be positive")
        out.append((vals[0], vals[1], vals[2]))
    return tuple(out)


def to_oci(maps: tuple[IDMap, ...]) -> list[dict[str, int]]:
    return [{"containerID": c, "hostID": h, "size": n} for c, h, n in maps]


def map_text(maps: tuple[IDMap, ...]) -> str:
    """The ``/proc/<pid>/uid_map`` format: one ``inside outside count`` line per range."""
    return "".join(f"{c} {h} {n}\n" for c, h, n in maps)


def to_host(container_id: int, maps: tuple[IDMap, ...]) -> int | None:
    """The host id ``container_id`` maps to, None when unmapped."""
    for c, h, n in maps:
        if c <= container_id < c + n:
            return h + container_id - c
    return None


@contextmanager
def spawned(
    uid_maps: tuple[IDMap, ...], gid_maps: tuple[IDMap, ...], flags: int = 0, hostname: str = ""
) -> Iterator[int]:
    """A child in a new user namespace (and the namespaces in ``flags``, owned by it) with the maps
    written; yields its pid, then lets it exit and reaps it."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: unshare, report, wait for the parent to finish with us
        os.close(ready_r)
        os.close(go_w)
        try:
            sc.unshare(sc.CLONE_NEWUSER | flags)
            if hostname:
                sc.sethostname(hostname)  # we hold every capability in the new user namespace
            os.write(ready_w, b"R")
        except OSError as e:
            os.write(ready_w, b"E" + str(e).encode(errors="replace"))
            os._exit(1)
        os.read(go_r, 1)
        os._exit(0)
    os.close(ready_w)
    os.close(go_r)
    try:
        answer = os.read(ready_r, 4096)
        if answer[:1] != b"R":
            raise OSError(f"creating a user namespace failed: {answer[1:].decode(errors='replace') or 'child died'}")
        with open(f"/proc/{pid}/uid_map", "w") as f:
            f.write(map_text(uid_maps))
        with open(f"/proc/{pid}/gid_map", "w") as f:
            f.write(map_text(gid_maps))
        yield pid
    finally:
        os.close(ready_r)
        os.close(go_w)  # EOF: the child exits
        os.waitpid(pid, 0)


def open_userns(uid_maps: tuple[IDMap, ...], gid_maps: tuple[IDMap, ...]) -> int:
    """An fd of a new user namespace with these maps (close-on-exec)."""
    with spawned(uid_maps, gid_maps) as pid:
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)


_FLAGS = {"net": sc.CLONE_NEWNET, "uts": sc.CLONE_NEWUTS, "ipc": sc.CLONE_NEWIPC}


def pin(paths: dict[str, str], uid_maps: tuple[IDMap, ...], gid_maps: tuple[IDMap, ...], hostname: str = "") -> None:
    """Create a user namespace and the namespaces named in ``paths`` (net, uts, ipc) owned by it, and
    bind-mount each (``user`` too) onto its existing file in ``paths``."""
    flags = 0
    for kind in paths:
        flags |= _FLAGS.get(kind, 0)
    with spawned(uid_maps, gid_maps, flags, hostname if "uts" in paths else "") as pid:
        for kind, path in paths.items():
            sc.mount(f"/proc/{pid}/ns/{kind}", path, None, sc.MS_BIND)


def main(arg: str | None = None) -> int:
    """``python -m skiff_runtime.oci.userns '{"paths": {...}, "uid_maps": [...], "gid_maps": [...]}'``:
    ``pin`` for the runtime daemon, which must not fork itself (it runs threads)."""
    req = json.loads(arg if arg is not None else sys.argv[1])
    try:
        pin(
            req["paths"],
            parse(req["uid_maps"], "uid_maps"),
            parse(req["gid_maps"], "gid_maps"),
            req.get("hostname", ""),
        )
    except (OSError, InvalidBundle) as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
