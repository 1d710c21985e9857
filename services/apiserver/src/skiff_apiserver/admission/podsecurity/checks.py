# ruff: noqa: E501  (the messages are Kubernetes' own sentences; kept whole to be greppable)
"""The Pod Security Standards' checks, as pure functions of a pod spec, with Kubernetes' wording.

Each check returns None or (forbidden reason, detail), the pair Kubernetes' pod-security-admission prints
as `reason (detail)`. `evaluate(level, spec, meta)` runs the checks of a level in the order of
Kubernetes' check registry: baseline's for "baseline", baseline's and restricted's for "restricted",
none for "privileged". Fields Skiff's API does not have (Windows host process, AppArmor, SELinux,
ephemeral containers) cannot violate anything and have no check here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

Violation = tuple[str, str]

BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
     "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)  # fmt: skip
SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
     "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
     "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
     "net.ipv4.tcp_keepalive_probes"}
)  # fmt: skip
RESTRICTED_VOLUMES = ("host_path",)  # of the volume types Skiff has, the ones restricted forbids


def _containers(spec: Any) -> Iterator[Any]:
    yield from spec.init_containers
    yield from spec.containers


def _sc(c: Any) -> Any:
    return c.security_context if c.HasField("security_context") else None


def _quote(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _containers_phrase(names: list[str]) -> str:
    return f"container {_quote(names)}" if len(names) == 1 else f"containers {_quote(names)}"


# -- baseline ------------------------------------------------------------------------------------------
def host_namespaces(spec: Any) -> Violation | None:
    on = [f"{n}=true" for n, v in (("hostNetwork", spec.host_network), ("hostPID", spec.host_pid),
                                    ("hostIPC", spec.host_ipc)) if v]  # fmt: skip
    return ("host namespaces", ", ".join(on)) if on else None


def privileged(spec: Any) -> Violation | None:
    bad = [c.name for c in _containers(spec) if _sc(c) is not None and _sc(c).privileged]
    if bad:
        return ("privileged", f"{_containers_phrase(bad)} must not set securityContext.privileged=true")
    return None


def _in_user_namespace(spec: Any) -> bool:
    """``hostUsers: false``: root in the pod is an unprivileged host user, so (KEP-127, Kubernetes'
    ``relaxPolicyForUserNamespacePod``) restricted's runAsNonRoot and runAsUser are not checked. Every
    other check holds as for any pod: baseline's capabilities.add too, as in Kubernetes."""
    return spec.HasField("host_users") and not spec.host_users


def capabilities_baseline(spec: Any) -> Violation | None:
    bad_names, caps = [], []
    for c in _containers(spec):
        sc = _sc(c)
        added = [a for a in (sc.capabilities.add if sc is not None else []) if a not in BASELINE_CAPABILITIES]
        if added:
            bad_names.append(c.name)
            caps += [a for a in added if a not in caps]
    if bad_names:
        return (
            "non-default capabilities",
            f"{_containers_phrase(bad_names)} must not include {_quote(caps)} in securityContext.capabilities.add",
        )
    return None


def host_path_volumes(spec: Any) -> Violation | None:
    bad = [v.name for v in spec.volumes if v.HasField("host_path")]
    if bad:
        return ("hostPath volumes", f"{'volume' if len(bad) == 1 else 'volumes'} {_quote(bad)}")
    return None


def host_ports(spec: Any) -> Violation | None:
    names, ports = [], []
    for c in _containers(spec):
        used = [p.host_port for p in c.ports if p.host_port]
        if used:
            names.append(c.name)
            ports += used
    if names:
        which = "hostPort" if len(ports) == 1 else "hostPorts"
        return ("hostPort", f"{_containers_phrase(names)} uses {which} {', '.join(str(p) for p in ports)}")
    return None


def proc_mount(spec: Any) -> Violation | None:
    bad, types = [], []
    for c in _containers(spec):
        sc = _sc(c)
        if sc is not None and sc.HasField("proc_mount") and sc.proc_mount not in ("", "Default"):
            bad.append(c.name)
            types.append(sc.proc_mount)
    if bad:
        return ("procMount", f"{_containers_phrase(bad)} must not set securityContext.procMount to {_quote(types)}")
    return None


def seccomp_baseline(spec: Any) -> Violation | None:
    parts = []
    if spec.HasField("security_context") and spec.security_context.seccomp_profile.type == "Unconfined":
        parts.append('pod must not set securityContext.seccompProfile.type to "Unconfined"')
    bad = [c.name for c in _containers(spec) if _sc(c) is not None and _sc(c).seccomp_profile.type == "Unconfined"]
    if bad:
        parts.append(f'{_containers_phrase(bad)} must not set securityContext.seccompProfile.type to "Unconfined"')
    return ("seccompProfile", "; ".join(parts)) if parts else None


def sysctls(spec: Any) -> Violation | None:
    if not spec.HasField("security_context"):
        return None
    bad = [s.name for s in spec.security_context.sysctls if s.name not in SAFE_SYSCTLS]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


# -- restricted ----------------------------------------------------------------------------------------
def volume_types(spec: Any) -> Violation | None:
    bad = []
    for v in spec.volumes:
        for kind in RESTRICTED_VOLUMES:
            if v.HasField(kind):
                bad.append((v.name, "hostPath"))
    if not bad:
        return None
    names = [n for n, _ in bad]
    types = sorted({t for _, t in bad})
    word = "volume" if len(names) == 1 else "volumes"
    tword = "type" if len(types) == 1 else "types"
    return (
        "restricted volume types",
        f"{word} {_quote(names)} {'uses' if len(names) == 1 else 'use'} restricted volume {tword} {_quote(types)}",
    )


def privilege_escalation(spec: Any) -> Violation | None:
    bad = []
    for c in _containers(spec):
        sc = _sc(c)
        if sc is None or not sc.HasField("allow_privilege_escalation") or sc.allow_privilege_escalation:
            bad.append(c.name)
    if bad:
        return (
            "allowPrivilegeEscalation != false",
            f"{_containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
        )
    return None


def run_as_non_root(spec: Any) -> Violation | None:
    if _in_user_namespace(spec):
        return None
    pod_sc = spec.security_context if spec.HasField("security_context") else None
    pod_true = pod_sc is not None and pod_sc.HasField("run_as_non_root") and pod_sc.run_as_non_root
    explicit_false_pod = pod_sc is not None and pod_sc.HasField("run_as_non_root") and not pod_sc.run_as_non_root
    false_names, unset_names = [], []
    for c in _containers(spec):
        sc = _sc(c)
        if sc is not None and sc.HasField("run_as_non_root"):
            if not sc.run_as_non_root:
                false_names.append(c.name)
        elif not pod_true:
            unset_names.append(c.name)
    parts = []
    if explicit_false_pod:
        parts.append("pod must not set securityContext.runAsNonRoot=false")
    if false_names:
        parts.append(f"{_containers_phrase(false_names)} must not set securityContext.runAsNonRoot=false")
    if unset_names and not pod_true:
        parts.append(f"pod or {_containers_phrase(unset_names)} must set securityContext.runAsNonRoot=true")
    return ("runAsNonRoot != true", "; ".join(parts)) if parts else None


def run_as_user(spec: Any) -> Violation | None:
    if _in_user_namespace(spec):
        return None
    parts = []
    if spec.HasField("security_context") and spec.security_context.HasField("run_as_user"):
        if spec.security_context.run_as_user == 0:
            parts.append("pod must not set runAsUser=0")
    bad = [
        c.name
        for c in _containers(spec)
        if _sc(c) is not None and _sc(c).HasField("run_as_user") and _sc(c).run_as_user == 0
    ]
    if bad:
        parts.append(f"{_containers_phrase(bad)} must not set runAsUser=0")
    return ("runAsUser=0", "; ".join(parts)) if parts else None


def seccomp_restricted(spec: Any) -> Violation | None:
    ok = ("RuntimeDefault", "Localhost")
    pod_type = spec.security_context.seccomp_profile.type if spec.HasField("security_context") else ""
    parts = []
    if pod_type and pod_type not in ok:
        parts.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    bad_set, unset = [], []
    for c in _containers(spec):
        sc = _sc(c)
        t = sc.seccomp_profile.type if sc is not None else ""
        if t and t not in ok:
            bad_set.append(c.name)
        elif not t and pod_type not in ok:
            unset.append(c.name)
    if bad_set:
        parts.append(f'{_containers_phrase(bad_set)} must not set securityContext.seccompProfile.type to "Unconfined"')
    if unset:
        parts.append(
            f'pod or {_containers_phrase(unset)} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"'
        )
    return ("seccompProfile", "; ".join(parts)) if parts else None


def capabilities_restricted(spec: Any) -> Violation | None:
    no_drop, added_names, added = [], [], []
    for c in _containers(spec):
        sc = _sc(c)
        if sc is None or "ALL" not in sc.capabilities.drop:
            no_drop.append(c.name)
        extra = [a for a in (sc.capabilities.add if sc is not None else []) if a != "NET_BIND_SERVICE"]
        if extra:
            added_names.append(c.name)
            added += [a for a in extra if a not in added]
    parts = []
    if no_drop:
        parts.append(f'{_containers_phrase(no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if added_names:
        parts.append(
            f"{_containers_phrase(added_names)} must not include {_quote(added)} in securityContext.capabilities.add"
        )
    return ("unrestricted capabilities", "; ".join(parts)) if parts else None


Check = Callable[[Any], Violation | None]
# (check ID, level, check): results are reported in ID order, as Kubernetes' registry sorts them; a
# restricted check named in OVERRIDES replaces the baseline one at the restricted level.
CHECKS: tuple[tuple[str, str, Check], ...] = tuple(
    sorted(
        (
            ("allowPrivilegeEscalation", "restricted", privilege_escalation),
            ("capabilities_baseline", "baseline", capabilities_baseline),
            ("capabilities_restricted", "restricted", capabilities_restricted),
            ("hostNamespaces", "baseline", host_namespaces),
            ("hostPathVolumes", "baseline", host_path_volumes),
            ("hostPorts", "baseline", host_ports),
            ("privileged", "baseline", privileged),
            ("procMount", "baseline", proc_mount),
            ("restrictedVolumes", "restricted", volume_types),
            ("runAsNonRoot", "restricted", run_as_non_root),
            ("runAsUser", "restricted", run_as_user),
            ("seccompProfile_baseline", "baseline", seccomp_baseline),
            ("seccompProfile_restricted", "restricted", seccomp_restricted),
            ("sysctls", "baseline", sysctls),
        ),
        key=lambda c: c[0],
    )
)
OVERRIDES = {"capabilities_baseline", "seccompProfile_baseline"}
LEVELS = ("privileged", "baseline", "restricted")


def evaluate(level: str, spec: Any) -> list[str]:
    """`reason (detail)` of every check the spec fails at `level`."""
    if level == "baseline":
        checks = [c for i, lvl, c in CHECKS if lvl == "baseline"]
    elif level == "restricted":
        checks = [c for i, _, c in CHECKS if i not in OVERRIDES]
    else:
        checks = []
    out = []
    for check in checks:
        v = check(spec)
        if v is not None:
            out.append(f"{v[0]} ({v[1]})" if v[1] else v[0])
    return out
