"""The CRI seccomp profile of a container -> the OCI spec's ``linux.seccomp``, as containerd does.

- no ``seccomp`` field at all, or ``Unconfined``: no filter (CRI's meaning of an absent profile; the
  kubelet sends RuntimeDefault when ``--seccomp-default`` is on);
- ``RuntimeDefault``: ``seccomp_default.json`` beside this module, our own profile: everything allowed
  except the calls that reach past a container's namespaces and cgroups (mount and friends, new
  namespaces through unshare/clone/setns, the keyring, eBPF, ptrace, kexec and modules,
  open_by_handle_at, host clocks, io_uring), which fail with EPERM. Unlike containerd's profile it does
  not re-allow mount/unshare when CAP_SYS_ADMIN is granted: a pod that needs them asks for Unconfined
  (or is privileged);
- ``Localhost``: the JSON file at ``localhost_ref`` (an absolute path on the node the kubelet resolved
  below its seccomp directory), in the OCI/Docker profile format;
- a privileged container is never filtered (Kubernetes: privileged implies Unconfined).

Architectures are the host's native ABIs, so runc/crun filter 32-bit calls by name too.
"""

from __future__ import annotations

import functools
import json
import platform
from pathlib import Path
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid

from skiff_runtime.oci import seccomp as oci_seccomp
from skiff_runtime.oci.errors import InvalidBundle

DEFAULT_PROFILE = Path(__file__).with_name("seccomp_default.json")
FIELD = "config.linux.security_context.seccomp"
_ARCHES = {
    "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
}


def _strip_comments(profile: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in profile.items() if k != "comment"}
    out["syscalls"] = [{k: v for k, v in r.items() if k != "comment"} for r in profile.get("syscalls") or []]
    return out


@functools.cache
def runtime_default() -> str:
    profile = _strip_comments(json.loads(DEFAULT_PROFILE.read_text()))
    profile["architectures"] = _ARCHES.get(platform.machine(), [])
    return json.dumps(profile)


def _invalid(field: str, reason: str, detail: str) -> Invalid:
    return Invalid("container config is invalid", [FieldError(field, reason, detail)])


def _localhost(ref: str) -> dict[str, Any]:
    if not ref.startswith("/"):
        raise _invalid(f"{FIELD}.localhost_ref", "Invalid value", "must be an absolute path on the node")
    try:
        profile = json.loads(Path(ref).read_text())
    except FileNotFoundError:
        raise _invalid(f"{FIELD}.localhost_ref", "Not found", f"seccomp profile {ref!r} does not exist") from None
    except (OSError, ValueError) as e:
        raise _invalid(f"{FIELD}.localhost_ref", "Invalid value", f"cannot read {ref!r}: {e}") from None
    if not isinstance(profile, dict):
        raise _invalid(f"{FIELD}.localhost_ref", "Invalid value", f"{ref!r} is not a JSON object")
    profile = _strip_comments(profile)
    for key in ("archMap", "listenerPath", "listenerMetadata", "flags"):
        profile.pop(key, None)
    try:
        oci_seccomp.check(profile)
    except InvalidBundle as e:
        raise _invalid(f"{FIELD}.localhost_ref", "Invalid value", f"{ref}: {e}") from None
    return profile


def linux_seccomp(sc: cri.LinuxContainerSecurityContext) -> dict[str, Any] | None:
    """The OCI ``linux.seccomp`` object for this container, or None for no filter."""
    if sc.privileged or not sc.HasField("seccomp"):
        return None
    kind = sc.seccomp.profile_type
    if kind == cri.SecurityProfile.Unconfined:
        return None
    if kind == cri.SecurityProfile.Localhost:
        return _localhost(sc.seccomp.localhost_ref)
    result: dict[str, Any] = json.loads(runtime_default())
    return result
