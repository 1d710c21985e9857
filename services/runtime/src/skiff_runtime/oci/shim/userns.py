"""The container init's user namespace: joined last, and the idmaps its mounts are made with.

The init builds the container (mount namespace, rootfs, mounts, /proc, /sys, cgroup) as the host's root
and joins the user namespace (``linux.namespaces`` type ``user``) only just before it drops privileges
and execs. So every mount is made with full host privileges, no mount has to be "locked" by the kernel,
and the mount namespace stays owned by the host's user namespace: the container's root can never mount
or unmount anything in it. (runc joins first and prepares idmapped mounts in its parent instead; the
container sees the same result.) ``setns(CLONE_NEWUSER)`` then gives the init every capability *inside*
the namespace, and ``drop_privileges`` narrows them to the spec's as usual; ids in the spec (``process.
user``, file owners) are the container's.

An idmapped bind mount (``mounts[].uidMappings``) needs a user namespace carrying its mappings: the
container's own when they match (the kubelet always asks for the pod's), otherwise a new one made for it.
A user namespace without a path (an OCI bundle asking for a new one) is made the same way.

Filesystems the init mounts fresh (tmpfs, devpts, mqueue) would be owned by the host's root; as if
mounted inside the namespace (runc mounts them there), their ``uid=``/``gid=`` options are translated
to host ids and a tmpfs without them gets the container root's.
"""

from __future__ import annotations

import os

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci import userns
from skiff_runtime.oci.spec import Mount, Spec

Maps = tuple[userns.IDMap, ...]


class ContainerUserns:
    def __init__(self, spec: Spec) -> None:
        self.uid_maps, self.gid_maps = spec.uid_mappings, spec.gid_mappings
        self.fd: int | None = None
        self._fds: dict[tuple[Maps, Maps], int] = {}
        ns = spec.namespace("user")
        if ns is None:
            return
        if ns.path:
            self.fd = os.open(ns.path, os.O_RDONLY | os.O_CLOEXEC)
        else:
            self.fd = userns.open_userns(self.uid_maps, self.gid_maps)
        self._fds[(self.uid_maps, self.gid_maps)] = self.fd

    def idmap_fd(self, m: Mount) -> int:
        key = (m.uid_mappings, m.gid_mappings)
        if key not in self._fds:
            self._fds[key] = userns.open_userns(*key)
        return self._fds[key]

    def bind_idmapped(self, m: Mount, target: str, recursive: bool) -> None:
        """Bind ``m.source`` on ``target`` idmapped through the mount's mappings."""
        flags = sc.OPEN_TREE_CLONE | sc.OPEN_TREE_CLOEXEC | (sc.AT_RECURSIVE if recursive else 0)
        fd = sc.open_tree(m.source, flags)
        try:
            sc.mount_setattr_idmap(fd, self.idmap_fd(m), recursive)
            sc.move_mount(fd, target)
        finally:
            os.close(fd)

    def mount_data(self, fstype: str, data: str) -> str:
        """``uid=``/``gid=`` options of a fresh tmpfs/devpts/mqueue, as the container means them."""
        if self.fd is None or fstype not in ("tmpfs", "devpts", "mqueue"):
            return data
        opts = [o for o in data.split(",") if o]
        out = []
        for opt in opts:
            key, _, value = opt.partition("=")
            maps = {"uid": self.uid_maps, "gid": self.gid_maps}.get(key)
            if maps is not None and value.isdigit():
                host = userns.to_host(int(value), maps)
                opt = f"{key}={host if host is not None else 65534}"
            out.append(opt)
        if fstype == "tmpfs":
            keys = {o.partition("=")[0] for o in out}
            for key, maps in (("uid", self.uid_maps), ("gid", self.gid_maps)):
                root = userns.to_host(0, maps)
                if key not in keys and root is not None:
                    out.append(f"{key}={root}")
        return ",".join(out)

    def join(self) -> None:
        """Enter the user namespace (last, before dropping privileges) and close every fd we held."""
        if self.fd is not None:
            sc.setns(self.fd, sc.CLONE_NEWUSER)
        for fd in set(self._fds.values()):
            os.close(fd)
        self._fds.clear()
        self.fd = None
