"""Thin ctypes wrappers for the Linux syscalls Python 3.11 does not expose.

Python 3.12 grew ``os.unshare``/``os.setns``; we target 3.11, so namespaces, mounts, ``pivot_root``,
capabilities and a few ``prctl`` options are called through libc here. Every wrapper raises ``OSError``
with errno and a short description of the call (``mount(proc -> /x/proc)``), so a failure inside the
container init can be reported to the caller verbatim instead of as an opaque ``-1``.

Only this module talks to ctypes; the rest of the executor uses these typed functions.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal


def _load_libc() -> ctypes.CDLL:
    # find_library() shells out to ldconfig (tens of ms on every shim/nsexec start): try glibc's soname
    # first and only search when that fails (e.g. musl).
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


_libc = _load_libc()

# Namespace clone flags (linux/sched.h).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# OCI namespace type -> (clone flag, /proc/<pid>/ns/<name>).
NAMESPACES: dict[str, tuple[int, str]] = {
    "pid": (CLONE_NEWPID, "pid"),
    "mount": (CLONE_NEWNS, "mnt"),
    "uts": (CLONE_NEWUTS, "uts"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "network": (CLONE_NEWNET, "net"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "user": (CLONE_NEWUSER, "user"),
}

# Mount flags (linux/mount.h).
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 0x20000
MS_PRIVATE = 0x40000
MS_SLAVE = 0x80000
MS_SHARED = 0x100000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2

# prctl options (linux/prctl.h).
PR_SET_PDEATHSIG = 1
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

# The new mount API (linux/mount.h), for idmapped mounts.
OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = os.O_CLOEXEC
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000
MOVE_MOUNT_F_EMPTY_PATH = 0x4
MOUNT_ATTR_IDMAP = 0x100000

_SYS_PIVOT_ROOT = 155  # x86_64
_SYS_OPEN_TREE = 428  # x86_64
_SYS_MOVE_MOUNT = 429  # x86_64
_SYS_MOUNT_SETATTR = 442  # x86_64
_SYS_CAPSET = 126  # x86_64
_SYS_RT_SIGACTION = 13  # x86_64
_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def _check(ret: int, what: str) -> int:
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), f"unshare({flags:#x})")


def setns(fd: int, nstype: int) -> None:
    _check(_libc.setns(ctypes.c_int(fd), ctypes.c_int(nstype)), f"setns({nstype:#x})")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            ctypes.c_ulong(flags),
            data.encode() if data else None,
        ),
        f"mount({source} -> {target}, type={fstype}, flags={flags:#x}, data={data!r})",
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(target.encode(), ctypes.c_int(flags)), f"umount2({target})")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(_libc.syscall(_SYS_PIVOT_ROOT, new_root.encode(), put_old.encode()), "pivot_root")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


def open_tree(path: str, flags: int) -> int:
    """A detached copy (``OPEN_TREE_CLONE``) of the mount at ``path``, as an fd."""
    return _check(
        _libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(-100), path.encode(), ctypes.c_uint(flags)), f"open_tree({path})"
    )


def mount_setattr_idmap(fd: int, userns_fd: int, recursive: bool) -> None:
    """Make the detached mount ``fd`` idmapped through the user namespace ``userns_fd``."""
    attr = _MountAttr(MOUNT_ATTR_IDMAP, 0, 0, userns_fd)
    flags = AT_EMPTY_PATH | (AT_RECURSIVE if recursive else 0)
    _check(
        _libc.syscall(
            _SYS_MOUNT_SETATTR, ctypes.c_int(fd), b"", ctypes.c_uint(flags), ctypes.byref(attr), ctypes.sizeof(attr)
        ),
        "mount_setattr(MOUNT_ATTR_IDMAP)",
    )


def move_mount(fd: int, target: str) -> None:
    """Attach the detached mount ``fd`` at ``target``."""
    _check(
        _libc.syscall(
            _SYS_MOVE_MOUNT,
            ctypes.c_int(fd),
            b"",
            ctypes.c_int(-100),
            target.encode(),
            ctypes.c_uint(MOVE_MOUNT_F_EMPTY_PATH),
        ),
        f"move_mount(-> {target})",
    )


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), f"sethostname({name})")


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg2),
            ctypes.c_ulong(arg3),
            ctypes.c_ulong(arg4),
            ctypes.c_ulong(arg5),
        ),
        f"prctl({option})",
    )


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's capability sets (64-bit masks, version 3 ABI = two 32-bit words)."""
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for word in range(2):
        shift = 32 * word
        data[word].effective = (effective >> shift) & 0xFFFFFFFF
        data[word].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[word].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.syscall(_SYS_CAPSET, ctypes.byref(header), data), "capset")


def reset_signals() -> None:
    """Default dispositions and an empty mask before exec. Ignored signals survive execve, and Python
    ignores SIGPIPE and SIGXFSZ (callers may ignore more, e.g. SIGQUIT): a container must not inherit
    that, or ``yes | head`` spins on EPIPE instead of dying."""

    for sig in range(1, signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            _default_reserved_signal(sig)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _default_reserved_signal(sig: int) -> None:
    """Python and libc refuse to touch the realtime signals libc reserves for its threads (32, 33), but
    a parent may still have left them ignored; the raw syscall resets them. An all-zero kernel
    sigaction is SIG_DFL with no flags and an empty mask."""
    zero = (ctypes.c_ulong * 4)()
    _libc.syscall(_SYS_RT_SIGACTION, sig, ctypes.byref(zero), None, 8)
