"""Capability names, Docker's default set, and dropping privileges before exec.

Order matters and follows runc's ``finalizeNamespace``:

1. drop the bounding set (needs CAP_SETPCAP, so while still root with full caps);
2. ``PR_SET_KEEPCAPS`` so that ``setuid`` away from 0 does not wipe the permitted set;
3. ``setgroups``/``setgid``/``setuid``;
4. ``capset`` effective/permitted/inheritable, then raise the ambient set (ambient caps are what a
   non-root process keeps across ``execve`` of a binary without file capabilities).

When config.json has no ``process.capabilities`` at all we apply Docker's default set rather than
leaving the process with every capability: failing closed is the safer reading of a missing field.
Requested capabilities the runtime itself does not hold (e.g. this host's bounding set lacks
CAP_SYS_RESOURCE) are silently intersected away, because ``capset`` would fail with EPERM otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from skiff_runtime.oci import syscalls
from skiff_runtime.oci.errors import InvalidBundle

CAP_NAMES = (
    "CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE "
    "NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT "
    "SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE "
    "AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ "
    "PERFMON BPF CHECKPOINT_RESTORE"
).split()
CAP_NUMBERS = {f"CAP_{name}": i for i, name in enumerate(CAP_NAMES)}

# moby/moby oci/caps/defaults.go
DOCKER_DEFAULT_CAPS = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def cap_mask(names: Iterable[str], field: str = "capabilities") -> int:
    mask = 0
    for i, name in enumerate(names):
        number = CAP_NUMBERS.get(name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}")
        if number is None:
            raise InvalidBundle(f"{field}[{i}]", f"Unsupported value: unknown capability {name!r}")
        mask |= 1 << number
    return mask


def last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAP_NAMES) - 1


def _held_mask() -> int:
    """This process's permitted set: we cannot grant more than that."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapPrm:"):
                return int(line.split()[1], 16)
    return (1 << (last_cap() + 1)) - 1


def held_names() -> list[str]:
    """The capabilities this process holds, by name: a privileged container gets exactly these
    (containerd's WithAllCurrentCapabilities), since runc cannot grant what its caller lacks."""
    held = _held_mask()
    return [f"CAP_{name}" for i, name in enumerate(CAP_NAMES) if held & (1 << i)]


def drop_privileges(
    *,
    uid: int,
    gid: int,
    additional_gids: Iterable[int],
    bounding: int | None,
    effective: int | None,
    permitted: int | None,
    inheritable: int | None,
    ambient: int | None,
) -> None:
    default = cap_mask(DOCKER_DEFAULT_CAPS)
    if bounding is effective is permitted is inheritable is ambient is None:
        bounding, effective, permitted = default, default, default
    held = _held_mask()
    bounding = held & (bounding if bounding is not None else default)
    permitted = held & (permitted or 0)
    effective = permitted & (effective or 0)
    inheritable = inheritable or 0
    ambient = permitted & inheritable & (ambient or 0)
    for cap in range(last_cap() + 1):
        if not bounding & (1 << cap):
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, cap)
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 1)
    os.setgroups(list(additional_gids))
    os.setgid(gid)
    os.setuid(uid)
    syscalls.prctl(syscalls.PR_SET_KEEPCAPS, 0)
    syscalls.capset(effective, permitted, inheritable & bounding & held)
    for cap in range(last_cap() + 1):
        if ambient & (1 << cap):
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, cap)
