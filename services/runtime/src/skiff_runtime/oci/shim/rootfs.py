"""Build the container's mount namespace: runc's ``prepareRootfs`` + ``pivotRoot`` + masking, in Python.

Runs inside the container init after ``unshare(CLONE_NEWNS)`` and before exec:

1. make ``/`` recursively private (or slave, per ``linux.rootfsPropagation``) so nothing we mount leaks
   back to the host and ``pivot_root`` accepts the tree;
2. bind the rootfs onto itself, so it is a mount point (``pivot_root`` requires one);
3. mount every ``mounts[]`` entry below the rootfs; destinations are resolved with ``secure_join`` so a
   symlink planted in an image (``/proc -> /etc``) cannot redirect a mount onto the host;
4. populate a tmpfs ``/dev`` with the standard device nodes and symlinks;
5. ``pivot_root(".", ".")`` then detach the old root (runc's trick: no temporary put_old directory);
6. masked paths (``/dev/null`` bound over files, read-only empty tmpfs over directories), read-only
   paths (recursive bind + read-only remount), and finally a read-only ``/`` if ``root.readonly``.

In a user namespace (``userns.py``) bind mounts with ``uidMappings`` are idmapped, and fresh tmpfs,
devpts and mqueue mounts get their ``uid=``/``gid=`` as the container means them.

Bind mounts with ``ro``/``nosuid``/... need a second ``MS_REMOUNT|MS_BIND`` call: the kernel ignores
those flags on the initial bind. Propagation flags also need their own call.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from skiff_runtime.oci import syscalls as sc
from skiff_runtime.oci.shim.userns import ContainerUserns
from skiff_runtime.oci.spec import Mount, Spec

_FLAGS: dict[str, tuple[bool, int]] = {  # option -> (clear?, flag)
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "nosuid": (False, sc.MS_NOSUID),
    "suid": (True, sc.MS_NOSUID),
    "nodev": (False, sc.MS_NODEV),
    "dev": (True, sc.MS_NODEV),
    "noexec": (False, sc.MS_NOEXEC),
    "exec": (True, sc.MS_NOEXEC),
    "sync": (False, sc.MS_SYNCHRONOUS),
    "async": (True, sc.MS_SYNCHRONOUS),
    "dirsync": (False, sc.MS_DIRSYNC),
    "mand": (False, sc.MS_MANDLOCK),
    "nomand": (True, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME),
    "atime": (True, sc.MS_NOATIME),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "diratime": (True, sc.MS_NODIRATIME),
    "relatime": (False, sc.MS_RELATIME),
    "norelatime": (True, sc.MS_RELATIME),
    "strictatime": (False, sc.MS_STRICTATIME),
    "nostrictatime": (True, sc.MS_STRICTATIME),
    "bind": (False, sc.MS_BIND),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "remount": (False, sc.MS_REMOUNT),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# name -> (mode, major, minor); all character devices, like runc's AllowedDevices defaults.
_DEVICES = {
    "null": (0o666, 1, 3),
    "zero": (0o666, 1, 5),
    "full": (0o666, 1, 7),
    "random": (0o666, 1, 8),
    "urandom": (0o666, 1, 9),
    "tty": (0o666, 5, 0),
}
_DEV_LINKS = {
    "fd": "/proc/self/fd",
    "stdin": "/proc/self/fd/0",
    "stdout": "/proc/self/fd/1",
    "stderr": "/proc/self/fd/2",
    "core": "/proc/kcore",
    "ptmx": "pts/ptmx",
}


def parse_options(options: tuple[str, ...]) -> tuple[int, int, str]:
    """-> (mount flags, propagation flags, comma-joined data for the filesystem)."""
    flags, prop, data = 0, 0, []
    for opt in options:
        if opt in _FLAGS:
            clear, flag = _FLAGS[opt]
            flags = flags & ~flag if clear else flags | flag
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def secure_join(root: str, path: str) -> str:
    """Resolve ``path`` as if ``root`` were ``/``: symlinks (absolute or relative) never escape root."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        if os.path.islink(candidate):
            hops += 1
            if hops > 40:
                raise OSError(errno.ELOOP, f"too many symlinks resolving {path} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p not in ("", ".")] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved)


def _make_target(target: str, source: str, is_bind: bool) -> None:
    """Bind mounts of a file need a file as mount point; everything else needs a directory."""
    if is_bind and os.path.exists(source) and not os.path.isdir(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "a").close()
    else:
        os.makedirs(target, exist_ok=True)


def _mount_one(rootfs: str, m: Mount, users: ContainerUserns | None) -> None:
    flags, prop, data = parse_options(m.options)
    if users is not None:
        data = users.mount_data(m.type, data)
    target = secure_join(rootfs, m.destination)
    is_bind = m.type == "bind" or bool(flags & sc.MS_BIND)
    _make_target(target, m.source, is_bind)
    if m.type == "cgroup":
        _mount_cgroup(target, flags)
    elif is_bind:
        if m.uid_mappings and users is not None:
            users.bind_idmapped(m, target, recursive=bool(flags & sc.MS_REC))
        else:
            sc.mount(m.source, target, None, sc.MS_BIND | (flags & sc.MS_REC))
        remount = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if remount:
            sc.mount(m.source, target, None, sc.MS_BIND | sc.MS_REMOUNT | remount)
    else:
        try:
            sc.mount(m.source, target, m.type, flags, data or None)
        except PermissionError:
            if m.type != "sysfs":
                raise
            # Without a private network namespace sysfs cannot be mounted; bind the host's, as runc does.
            sc.mount("/sys", target, None, sc.MS_BIND | sc.MS_REC)
            sc.mount("/sys", target, None, sc.MS_BIND | sc.MS_REMOUNT | (flags & ~sc.MS_REC))
        if m.destination == "/dev" and m.type == "tmpfs":
            _populate_dev(target)
    if prop:
        sc.mount("", target, None, prop)


def _mount_cgroup(target: str, flags: int) -> None:
    """cgroup v2: one cgroup2 mount. v1: tmpfs + one mount per hierarchy, each seeing its own root."""
    ro = flags & sc.MS_RDONLY
    base = sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        sc.mount("cgroup2", target, "cgroup2", base | ro)
        return
    sc.mount("tmpfs", target, "tmpfs", base, "mode=755")
    for name in sorted(os.listdir("/sys/fs/cgroup")):
        if name == "unified" or not os.path.ismount(f"/sys/fs/cgroup/{name}"):
            continue
        os.makedirs(f"{target}/{name}", exist_ok=True)
        opt = "none,name=systemd" if name == "systemd" else name
        try:
            sc.mount("cgroup", f"{target}/{name}", "cgroup", base | ro, opt)
        except OSError:
            os.rmdir(f"{target}/{name}")
    if ro:
        sc.mount("tmpfs", target, None, sc.MS_REMOUNT | base | sc.MS_RDONLY, "mode=755")


def _populate_dev(dev: str) -> None:
    for name, (mode, major, minor) in _DEVICES.items():
        path = f"{dev}/{name}"
        try:
            os.mknod(path, mode | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(path, mode)  # mknod honours the umask
        except PermissionError:
            # No CAP_MKNOD (nested/unprivileged): bind the host node onto a placeholder in our tmpfs,
            # read-only, so the container cannot chmod/chown the host's node through it (EROFS); reads and
            # writes of a device node work on a read-only mount.
            open(path, "a").close()
            sc.mount(f"/dev/{name}", path, None, sc.MS_BIND)
            sc.mount("", path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_NOSUID | sc.MS_NOEXEC)
    for name, target in _DEV_LINKS.items():
        if not os.path.lexists(f"{dev}/{name}"):
            os.symlink(target, f"{dev}/{name}")


def _create_devices(rootfs: str, spec: Spec) -> None:
    """``linux.devices``: make each node in the container's /dev (after its tmpfs is mounted)."""
    kinds = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
    for d in spec.devices:
        target = secure_join(rootfs, d.path)
        if os.path.lexists(target):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.mknod(target, (d.file_mode & 0o7777) | kinds[d.type], os.makedev(d.major, d.minor))
        os.chmod(target, d.file_mode & 0o7777)
        os.chown(target, d.uid, d.gid)


def setup_rootfs(
    spec: Spec, before_cgroup_mount: Callable[[], None] = lambda: None, users: ContainerUserns | None = None
) -> None:
    """Everything up to and including pivot_root. Caller already unshared the mount namespace.
    ``before_cgroup_mount`` runs (once) before the first cgroup mount: the init enters its cgroup
    namespace there, since a cgroup mount shows the cgroup namespace root of whoever mounts it."""
    rootfs = spec.root_path
    base_prop = sc.MS_SLAVE if "slave" in spec.rootfs_propagation else sc.MS_PRIVATE
    sc.mount("", "/", None, base_prop | sc.MS_REC)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    for m in spec.mounts:
        if m.type in ("cgroup", "cgroup2"):
            before_cgroup_mount()
        _mount_one(rootfs, m, users)
    _create_devices(rootfs, spec)
    os.chdir(rootfs)
    sc.pivot_root(".", ".")
    # The old root is now stacked under "."; make it slave so unmounting does not propagate, then drop it.
    sc.mount("", ".", None, sc.MS_SLAVE | sc.MS_REC)
    sc.umount2(".", sc.MNT_DETACH)
    os.chdir("/")
    if "shared" in spec.rootfs_propagation:
        sc.mount("", "/", None, sc.MS_SHARED | sc.MS_REC)


def finalize_rootfs(spec: Spec) -> None:
    """After pivot_root: masked paths, read-only paths, read-only root."""
    for path in spec.readonly_paths:
        try:
            sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        except FileNotFoundError:
            continue
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | sc.MS_REC)
    for path in spec.masked_paths:
        try:
            if os.path.isdir(path):
                sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
            else:
                sc.mount("/dev/null", path, None, sc.MS_BIND)
        except FileNotFoundError:
            continue
    if spec.root_readonly:
        sc.mount("", "/", None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
