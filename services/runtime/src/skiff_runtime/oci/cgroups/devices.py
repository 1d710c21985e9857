"""Device access control for cgroup v2: a tiny eBPF program attached to the container's cgroup.

cgroup v2 has no ``devices.allow``/``devices.deny`` files; the kernel instead runs a
``BPF_PROG_TYPE_CGROUP_DEVICE`` program on every device open/mknod in the cgroup and denies access
when it returns 0. Without it, a container holding CAP_MKNOD (in Docker's default set!) could
``mknod`` the host's disk and open it. This module assembles runc's default allow-list (the same rules
the v1 driver writes to ``devices.allow``) into BPF instructions by hand, loads it with ``bpf(2)``
and attaches it with ``BPF_F_ALLOW_MULTI`` (so a program on a parent cgroup, e.g. systemd's, still
applies too). The attachment holds the only reference we need: the program lives until the cgroup is
removed, so nothing has to be remembered across restarts.

Program shape (as runc's ``devicefilter``): load type, access, major, minor from the context into
r2..r5; one block per rule that jumps to the next block on any mismatch and otherwise returns 1;
a final ``return 0``. Rules are "allow" only, on top of deny-all.
"""

from __future__ import annotations

import ctypes
import os
import struct
from dataclasses import dataclass

from skiff_runtime.oci import syscalls as sc

_SYS_BPF = 321  # x86_64
_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6
_BPF_F_ALLOW_MULTI = 2

_DEV_TYPES = {"b": 1, "c": 2}  # BPF_DEVCG_DEV_BLOCK / _CHAR
_ACCESS = {"m": 1, "r": 2, "w": 4}  # BPF_DEVCG_ACC_MKNOD / _READ / _WRITE

# runc's default allow-list: mknod of anything, and use of the standard nodes only.
DEFAULT_RULES = (
    "c *:* m",
    "b *:* m",
    "c 1:3 rwm",  # null
    "c 1:5 rwm",  # zero
    "c 1:7 rwm",  # full
    "c 1:8 rwm",  # random
    "c 1:9 rwm",  # urandom
    "c 5:0 rwm",  # tty
    "c 5:1 rwm",  # console
    "c 5:2 rwm",  # ptmx
    "c 136:* rwm",  # pts
    "c 10:200 rwm",  # tun
)


@dataclass(frozen=True)
class Rule:
    type: int | None  # None: any ("a")
    major: int | None  # None: any ("*")
    minor: int | None
    access: int  # mask of _ACCESS bits

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``"c 136:* rwm"`` (the v1 devices.allow syntax)."""
        kind, numbers, access = text.split()
        major, minor = numbers.split(":")
        return cls(
            type=None if kind == "a" else _DEV_TYPES[kind],
            major=None if major == "*" else int(major),
            minor=None if minor == "*" else int(minor),
            access=sum(_ACCESS[c] for c in access),
        )


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54
_RSH32_K = 0x74
_MOV32_X = 0xBC
_MOV64_K = 0xB7
_JNE_K = 0x55  # if dst != imm: pc += off
_EXIT = 0x95


def assemble(rules: list[Rule]) -> bytes:
    prog = [
        _insn(_LDX_W, dst=2, src=1, off=0),  # r2 = access_type
        _insn(_AND32_K, dst=2, imm=0xFFFF),  # r2 = device type
        _insn(_LDX_W, dst=3, src=1, off=0),
        _insn(_RSH32_K, dst=3, imm=16),  # r3 = requested access
        _insn(_LDX_W, dst=4, src=1, off=4),  # r4 = major
        _insn(_LDX_W, dst=5, src=1, off=8),  # r5 = minor
    ]
    for rule in rules:
        # Each test is (instructions..., jump-if-mismatch); offsets are patched once the block is known.
        tests: list[list[tuple[int, int, int, int]]] = []
        if rule.type is not None:
            tests.append([(_JNE_K, 2, 0, rule.type)])
        if rule.access != 7:  # the request must be a subset of the rule's access
            tests.append([(_MOV32_X, 1, 3, 0), (_AND32_K, 1, 0, ~rule.access & 0x7), (_JNE_K, 1, 0, 0)])
        if rule.major is not None:
            tests.append([(_JNE_K, 4, 0, rule.major)])
        if rule.minor is not None:
            tests.append([(_JNE_K, 5, 0, rule.minor)])
        flat = [insn for test in tests for insn in test]
        block_len = len(flat) + 2  # + "r0 = 1; exit"
        for i, (code, dst, src, imm) in enumerate(flat):
            off = block_len - i - 1 if code == _JNE_K else 0
            prog.append(_insn(code, dst=dst, src=src, off=off, imm=imm))
        prog += [_insn(_MOV64_K, dst=0, imm=1), _insn(_EXIT)]
    prog += [_insn(_MOV64_K, dst=0, imm=0), _insn(_EXIT)]
    return b"".join(prog)


def _bpf(cmd: int, attr: ctypes.Array[ctypes.c_char]) -> int:
    ret = int(sc._libc.syscall(_SYS_BPF, cmd, attr, ctypes.sizeof(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"bpf({cmd}): {os.strerror(err)}")
    return ret


def attach_device_filter(cgroup_dir: str, rules: tuple[str, ...] = DEFAULT_RULES) -> None:
    code = assemble([Rule.parse(r) for r in rules])
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(b"Apache-2.0")
    log = ctypes.create_string_buffer(65536)
    attr = ctypes.create_string_buffer(128)
    struct.pack_into(
        "<IIQQIIQ",
        attr,
        0,
        _BPF_PROG_TYPE_CGROUP_DEVICE,
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license),
        1,  # log_level: the verifier explains a rejection
        ctypes.sizeof(log),
        ctypes.addressof(log),
    )
    try:
        prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    except OSError as e:
        detail = log.value.decode(errors="replace").strip()
        raise OSError(e.errno, f"loading the device filter: {e.strerror} {detail}".strip()) from None
    cg_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        attr = ctypes.create_string_buffer(128)
        struct.pack_into("<IIII", attr, 0, cg_fd, prog_fd, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI)
        _bpf(_BPF_PROG_ATTACH, attr)
    finally:
        os.close(cg_fd)
        os.close(prog_fd)
