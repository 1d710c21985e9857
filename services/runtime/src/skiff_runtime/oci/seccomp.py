"""``linux.seccomp`` of an OCI spec: validated when the bundle is loaded, loaded into the kernel by the
native executor through libseccomp (the ``pyseccomp`` ctypes binding to the system's libseccomp.so.2,
the library runc and crun use too), so both executors enforce one and the same profile.

The profile stays in its OCI JSON form (a string in ``Spec``) so the parsed spec remains trivially
JSON-serialisable for the exec helpers. ``check`` refuses what the kernel filter could not express
(unknown actions/operators, an argument index past 5) with ``InvalidBundle`` before anything is created.

``apply`` runs in the container init just before privileges are dropped, and in every exec'd process
at the same point, so ``kubectl exec`` is filtered like the container's own processes (as runc does).
It is loaded while the process still holds CAP_SYS_ADMIN, so it does not need ``no_new_privs``:
libseccomp's habit of setting no_new_privs itself (``CTL_NNP``) is switched off, because
``allowPrivilegeEscalation`` alone decides that bit. The filter must allow what follows it until
``execve`` (setgroups/setuid/capset/chdir/execve); every profile that can run a container does.

Only the native architecture is added: a syscall made through another ABI (32-bit ``int 0x80`` on
x86_64) meets libseccomp's bad-arch action, which kills the process, stricter than runc (which adds
the 32-bit ABIs listed in ``architectures`` and filters them by name).
"""

from __future__ import annotations

import json
from typing import Any

# Imported (and libseccomp.so.2 loaded) here, at import time: ``apply`` runs after pivot_root or setns
# into the container's mount namespace, where neither the module nor the library can be found.
import pyseccomp as lib  # type: ignore[import-untyped]

from skiff_runtime.oci.errors import InvalidBundle

_ACTIONS = {
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_LOG",
}
_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
EPERM = 1


def check(raw: Any) -> str | None:
    """Validate an OCI ``linux.seccomp`` object; return it as compact JSON (None when absent)."""
    if raw is None:
        return None
    where = "linux.seccomp"
    if not isinstance(raw, dict):
        raise InvalidBundle(where, "must be an object")
    if raw.get("defaultAction") not in _ACTIONS:
        raise InvalidBundle(f"{where}.defaultAction", f"Unsupported value: {raw.get('defaultAction')!r}")
    syscalls = raw.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise InvalidBundle(f"{where}.syscalls", "must be a list")
    for i, rule in enumerate(syscalls):
        at = f"{where}.syscalls[{i}]"
        if not isinstance(rule, dict):
            raise InvalidBundle(at, "must be an object")
        names = rule.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise InvalidBundle(f"{at}.names", "Required value: a list of syscall names")
        if rule.get("action") not in _ACTIONS:
            raise InvalidBundle(f"{at}.action", f"Unsupported value: {rule.get('action')!r}")
        for j, arg in enumerate(rule.get("args") or []):
            a = f"{at}.args[{j}]"
            if not isinstance(arg, dict):
                raise InvalidBundle(a, "must be an object")
            index = arg.get("index")
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= 5:
                raise InvalidBundle(f"{a}.index", "must be an integer from 0 to 5")
            if arg.get("op") not in _OPS:
                raise InvalidBundle(f"{a}.op", f"Unsupported value: {arg.get('op')!r}")
            for key in ("value", "valueTwo"):
                value = arg.get(key, 0)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InvalidBundle(f"{a}.{key}", "must be a non-negative integer")
    return json.dumps(raw, separators=(",", ":"), sort_keys=True)


def _action(name: str, errno_ret: Any) -> int:
    if name == "SCMP_ACT_ERRNO":
        return int(lib.ERRNO(errno_ret if isinstance(errno_ret, int) else EPERM))
    table = {
        "SCMP_ACT_ALLOW": lib.ALLOW,
        "SCMP_ACT_KILL": lib.KILL,
        "SCMP_ACT_KILL_THREAD": lib.KILL,
        "SCMP_ACT_KILL_PROCESS": getattr(lib, "KILL_PROCESS", lib.KILL),
        "SCMP_ACT_TRAP": lib.TRAP,
        "SCMP_ACT_LOG": getattr(lib, "LOG", lib.ALLOW),
    }
    return int(table[name])


def apply(profile_json: str | None) -> None:
    """Load the profile into the kernel for this process (inherited by what it execs and forks)."""
    if not profile_json:
        return
    profile = json.loads(profile_json)
    default = _action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    flt = lib.SyscallFilter(default)
    flt.set_attr(lib.Attr.CTL_NNP, 0)
    for rule in profile.get("syscalls") or []:
        action = _action(rule["action"], rule.get("errnoRet"))
        if action == default:
            continue  # libseccomp refuses a rule that repeats the default action
        args = [
            lib.Arg(a["index"], _OPS[a["op"]], a.get("value", 0), a.get("valueTwo", 0)) for a in rule.get("args") or []
        ]
        for name in rule["names"]:
            try:
                flt.add_rule(action, name, *args)
            except (OSError, ValueError, RuntimeError):
                continue  # a syscall this architecture does not have: nothing to filter (as runc)
    flt.load()
