"""Parse and validate the subset of an OCI runtime-spec ``config.json`` the executor honours.

Validation happens once, in the shim, *before* anything is created, so a bad bundle fails ``create()``
with ``InvalidBundle(field, reason)`` (e.g. ``process.user.uid: must be a non-negative integer``) and
leaves nothing behind. The parsed form is a tree of frozen dataclasses that is also JSON-serialisable
(``to_json``/``from_json``) so it can be handed to the ``nsexec`` helper used by ``exec_sync``.
Unknown fields are ignored, as the OCI spec requires of runtimes.
"""

from __future__ import annotations

import json
import resource
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from skiff_runtime.oci import seccomp, userns
from skiff_runtime.oci.caps import cap_mask
from skiff_runtime.oci.errors import InvalidBundle
from skiff_runtime.oci.jsonfields import get, strings, uint
from skiff_runtime.oci.syscalls import NAMESPACES


@dataclass(frozen=True)
class Mount:
    destination: str
    type: str
    source: str
    options: tuple[str, ...] = ()
    uid_mappings: tuple[userns.IDMap, ...] = ()  # an idmapped bind mount when set
    gid_mappings: tuple[userns.IDMap, ...] = ()


@dataclass(frozen=True)
class Namespace:
    type: str
    path: str | None = None


@dataclass(frozen=True)
class Resources:
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    memory_limit: int | None = None
    pids_limit: int | None = None
    # linux.resources.devices is honoured in one shape only: an unconditional allow of everything
    # ({"allow": true, "access": "rwm"}: privileged containers); anything else keeps runc's defaults.
    devices_allow_all: bool = False


@dataclass(frozen=True)
class Device:
    """A node of ``linux.devices``, created in the container's /dev (privileged: every host device)."""

    path: str
    type: str  # "c", "b", "u" (= c) or "p" (fifo)
    major: int = 0
    minor: int = 0
    file_mode: int = 0o666
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Process:
    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    # Capability masks (bit n = capability n); None = field absent in config.json.
    bounding: int | None = None
    effective: int | None = None
    permitted: int | None = None
    inheritable: int | None = None
    ambient: int | None = None
    no_new_privileges: bool = False
    rlimits: tuple[tuple[int, int, int], ...] = ()  # (resource.RLIMIT_*, soft, hard)
    oom_score_adj: int | None = None
    umask: int = 0o022  # runc's default when process.user.umask is absent


@dataclass(frozen=True)
class Spec:
    process: Process
    root_path: str
    root_readonly: bool = False
    hostname: str | None = None
    mounts: tuple[Mount, ...] = ()
    namespaces: tuple[Namespace, ...] = ()
    cgroups_path: str | None = None
    resources: Resources = field(default_factory=Resources)
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    rootfs_propagation: str = "rprivate"
    sysctl: tuple[tuple[str, str], ...] = ()
    devices: tuple[Device, ...] = ()
    seccomp: str | None = None  # linux.seccomp as checked JSON (oci/seccomp.py), None: no filter
    uid_mappings: tuple[userns.IDMap, ...] = ()  # of the user namespace (type "user"), if any
    gid_mappings: tuple[userns.IDMap, ...] = ()

    def namespace(self, ns_type: str) -> Namespace | None:
        return next((ns for ns in self.namespaces if ns.type == ns_type), None)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Spec:
        raw = json.loads(text)
        proc = raw.pop("process")
        proc["args"] = tuple(proc["args"])
        proc["env"] = tuple(proc["env"])
        proc["additional_gids"] = tuple(proc["additional_gids"])
        proc["rlimits"] = tuple(tuple(r) for r in proc["rlimits"])
        raw["mounts"] = tuple(
            Mount(
                **{
                    **m,
                    "options": tuple(m["options"]),
                    "uid_mappings": _maps(m.get("uid_mappings", ())),
                    "gid_mappings": _maps(m.get("gid_mappings", ())),
                }
            )
            for m in raw["mounts"]
        )
        raw["uid_mappings"] = _maps(raw.get("uid_mappings", ()))
        raw["gid_mappings"] = _maps(raw.get("gid_mappings", ()))
        raw["namespaces"] = tuple(Namespace(**n) for n in raw["namespaces"])
        raw["resources"] = Resources(**raw["resources"])
        raw["devices"] = tuple(Device(**d) for d in raw.get("devices", ()))
        raw["sysctl"] = tuple(tuple(kv) for kv in raw["sysctl"])
        raw["masked_paths"] = tuple(raw["masked_paths"])
        raw["readonly_paths"] = tuple(raw["readonly_paths"])
        return cls(process=Process(**proc), **raw)


def _maps(raw: Any) -> tuple[userns.IDMap, ...]:
    return tuple((int(c), int(h), int(n)) for c, h, n in raw)


def _parse_process(raw: dict[str, Any]) -> Process:
    args = strings(raw, "args", "process")
    if not args:
        raise InvalidBundle("process.args", "Required value: at least one argument")
    if raw.get("terminal"):
        raise InvalidBundle("process.terminal", "Unsupported value: only terminal=false is supported")
    cwd = get(raw, "cwd", "process", str, "/")
    if not cwd.startswith("/"):
        raise InvalidBundle("process.cwd", "must be an absolute path")
    user = get(raw, "user", "process", dict, {})
    gids = get(user, "additionalGids", "process.user", list, []) or []
    for i, gid in enumerate(gids):
        if not isinstance(gid, int) or isinstance(gid, bool) or gid < 0:
            raise InvalidBundle(f"process.user.additionalGids[{i}]", "must be a non-negative integer")
    caps_raw = get(raw, "capabilities", "process", dict, None)
    masks: dict[str, int | None] = {}
    for kind in ("bounding", "effective", "permitted", "inheritable", "ambient"):
        names = strings(caps_raw, kind, "process.capabilities") if caps_raw and kind in caps_raw else None
        masks[kind] = cap_mask(names, f"process.capabilities.{kind}") if names is not None else None
    rlimits = []
    for i, rl in enumerate(get(raw, "rlimits", "process", list, []) or []):
        where = f"process.rlimits[{i}]"
        if not isinstance(rl, dict):
            raise InvalidBundle(where, "must be an object")
        name = get(rl, "type", where, str, "")
        number = getattr(resource, name, None)
        if not name.startswith("RLIMIT_") or not isinstance(number, int):
            raise InvalidBundle(f"{where}.type", f"Unsupported value: {name!r}")
        rlimits.append((number, uint(rl, "soft", where, 0) or 0, uint(rl, "hard", where, 0) or 0))
    return Process(
        args=args,
        env=strings(raw, "env", "process"),
        cwd=cwd,
        uid=uint(user, "uid", "process.user", 0) or 0,
        gid=uint(user, "gid", "process.user", 0) or 0,
        additional_gids=tuple(gids),
        no_new_privileges=bool(get(raw, "noNewPrivileges", "process", bool, False)),
        rlimits=tuple(rlimits),
        oom_score_adj=_oom_score_adj(raw),
        umask=_umask(user),
        **masks,
    )


def _umask(user: dict[str, Any]) -> int:
    value = uint(user, "umask", "process.user", 0o022)
    if value is None or value > 0o777:
        raise InvalidBundle("process.user.umask", "must be between 0 and 0o777")
    return value


def _oom_score_adj(raw: dict[str, Any]) -> int | None:
    value: int | None = get(raw, "oomScoreAdj", "process", int, None)
    if value is not None and not -1000 <= value <= 1000:
        raise InvalidBundle("process.oomScoreAdj", "must be between -1000 and 1000")
    return value


# Namespaced sysctls (as runc validates them): prefix -> the namespace that must be private.
_SYSCTL_NAMESPACE = {
    "net.": "network",
    "kernel.shm": "ipc",
    "kernel.msg": "ipc",
    "kernel.sem": "ipc",
    "fs.mqueue.": "ipc",
    "kernel.hostname": "uts",
    "kernel.domainname": "uts",
}


def _parse_sysctl(raw: dict[str, Any], namespaces: tuple[Namespace, ...]) -> tuple[tuple[str, str], ...]:
    items = get(raw, "sysctl", "linux", dict, {}) or {}
    private = {ns.type for ns in namespaces if not ns.path}
    shared = {ns.type for ns in namespaces if ns.path}
    out = []
    for key, value in sorted(items.items()):
        where = f"linux.sysctl[{key}]"
        if not isinstance(value, str):
            raise InvalidBundle(where, "must be a string")
        if "/" in key or ".." in key:
            raise InvalidBundle(where, "Invalid value: not a sysctl name")
        ns = next((ns for prefix, ns in _SYSCTL_NAMESPACE.items() if key.startswith(prefix)), None)
        if ns is None:
            raise InvalidBundle(where, "Forbidden: not a namespaced sysctl")
        if ns not in private | shared:
            raise InvalidBundle(where, f"Forbidden: needs a private {ns} namespace, the host's would change")
        out.append((key, value))
    return tuple(out)


def _parse_mounts(raw: list[Any]) -> tuple[Mount, ...]:
    mounts = []
    for i, m in enumerate(raw):
        where = f"mounts[{i}]"
        if not isinstance(m, dict):
            raise InvalidBundle(where, "must be an object")
        dest = get(m, "destination", where, str, "")
        if not dest.startswith("/"):
            raise InvalidBundle(f"{where}.destination", "must be an absolute path")
        options = strings(m, "options", where)
        mtype = get(m, "type", where, str, "") or ("bind" if {"bind", "rbind"} & set(options) else "")
        if not mtype:
            raise InvalidBundle(f"{where}.type", "Required value")
        uids = userns.parse(m.get("uidMappings"), f"{where}.uidMappings")
        gids = userns.parse(m.get("gidMappings"), f"{where}.gidMappings")
        if (uids or gids) and not (uids and gids and mtype == "bind"):
            raise InvalidBundle(f"{where}.uidMappings", "idmapped mounts need both mappings and a bind mount")
        mounts.append(Mount(dest, mtype, get(m, "source", where, str, "") or mtype, options, uids, gids))
    return tuple(mounts)


def _allows_all_devices(rules: list[Any]) -> bool:
    return any(
        isinstance(r, dict)
        and r.get("allow") is True
        and r.get("type", "a") == "a"
        and r.get("major") is None
        and r.get("minor") is None
        and set(r.get("access") or "rwm") >= set("rwm")
        for r in rules
    )


def _parse_devices(raw: list[Any]) -> tuple[Device, ...]:
    out = []
    for i, d in enumerate(raw):
        where = f"linux.devices[{i}]"
        if not isinstance(d, dict):
            raise InvalidBundle(where, "must be an object")
        path = get(d, "path", where, str, "")
        if not path.startswith("/dev/") or ".." in path.split("/"):
            raise InvalidBundle(f"{where}.path", "must be an absolute path below /dev without '..'")
        kind = get(d, "type", where, str, "")
        if kind not in ("c", "b", "u", "p"):
            raise InvalidBundle(f"{where}.type", f"Unsupported value: {kind!r}")
        out.append(
            Device(
                path=path,
                type=kind,
                major=uint(d, "major", where, 0) or 0,
                minor=uint(d, "minor", where, 0) or 0,
                file_mode=uint(d, "fileMode", where, 0o666) or 0o666,
                uid=uint(d, "uid", where, 0) or 0,
                gid=uint(d, "gid", where, 0) or 0,
            )
        )
    return tuple(out)


def _parse_linux(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    namespaces = []
    for i, ns in enumerate(get(raw, "namespaces", "linux", list, []) or []):
        where = f"linux.namespaces[{i}]"
        ns_type = get(ns, "type", where, str, "") if isinstance(ns, dict) else None
        if ns_type not in NAMESPACES:
            raise InvalidBundle(f"{where}.type", f"Unsupported value: {ns_type!r}")
        namespaces.append(Namespace(ns_type, get(ns, "path", where, str, None) or None))
    if len({ns.type for ns in namespaces}) != len(namespaces):
        raise InvalidBundle("linux.namespaces", "Duplicate value: a namespace type is listed twice")
    out["namespaces"] = tuple(namespaces)
    out["uid_mappings"] = userns.parse(raw.get("uidMappings"), "linux.uidMappings")
    out["gid_mappings"] = userns.parse(raw.get("gidMappings"), "linux.gidMappings")
    has_user = any(ns.type == "user" for ns in namespaces)
    if has_user and not (out["uid_mappings"] and out["gid_mappings"]):
        raise InvalidBundle("linux.uidMappings", "Required value: a user namespace needs uid and gid mappings")
    if not has_user and (out["uid_mappings"] or out["gid_mappings"]):
        raise InvalidBundle("linux.uidMappings", "Forbidden: mappings without a user namespace")
    cg = get(raw, "cgroupsPath", "linux", str, None)
    if cg is not None and (not cg.startswith("/") or ".." in cg.split("/")):
        raise InvalidBundle("linux.cgroupsPath", "must be an absolute path without '..'")
    out["cgroups_path"] = cg
    res = get(raw, "resources", "linux", dict, {}) or {}
    cpu = get(res, "cpu", "linux.resources", dict, {}) or {}
    mem = get(res, "memory", "linux.resources", dict, {}) or {}
    pids = get(res, "pids", "linux.resources", dict, {}) or {}
    quota = get(cpu, "quota", "linux.resources.cpu", int, None)
    limit = get(mem, "limit", "linux.resources.memory", int, None)
    pids_limit = get(pids, "limit", "linux.resources.pids", int, None)
    out["resources"] = Resources(
        cpu_shares=uint(cpu, "shares", "linux.resources.cpu"),
        cpu_quota=quota if quota is None or quota > 0 else None,  # -1 / 0 mean "unlimited"
        cpu_period=uint(cpu, "period", "linux.resources.cpu"),
        memory_limit=limit if limit is None or limit > 0 else None,
        pids_limit=pids_limit if pids_limit is None or pids_limit > 0 else None,
        devices_allow_all=_allows_all_devices(get(res, "devices", "linux.resources", list, []) or []),
    )
    out["devices"] = _parse_devices(get(raw, "devices", "linux", list, []) or [])
    out["sysctl"] = _parse_sysctl(raw, out["namespaces"])
    out["masked_paths"] = strings(raw, "maskedPaths", "linux")
    out["readonly_paths"] = strings(raw, "readonlyPaths", "linux")
    prop = get(raw, "rootfsPropagation", "linux", str, None) or "rprivate"
    if prop not in ("private", "rprivate", "slave", "rslave", "shared", "rshared"):
        raise InvalidBundle("linux.rootfsPropagation", f"Unsupported value: {prop!r}")
    out["rootfs_propagation"] = prop
    out["seccomp"] = seccomp.check(raw.get("seccomp"))
    return out


def load_spec(bundle: Path) -> Spec:
    """Read ``bundle/config.json``; relative ``root.path`` is resolved against the bundle."""
    try:
        raw = json.loads((bundle / "config.json").read_text())
    except FileNotFoundError:
        raise InvalidBundle("bundle", f"{bundle}/config.json does not exist") from None
    except (OSError, ValueError) as e:
        raise InvalidBundle("config.json", f"cannot be read: {e}") from None
    if not isinstance(raw, dict):
        raise InvalidBundle("config.json", "must be a JSON object")
    process = get(raw, "process", "", dict, None)
    if process is None:
        raise InvalidBundle("process", "Required value")
    root = get(raw, "root", "", dict, None)
    if root is None or not get(root, "path", "root", str, ""):
        raise InvalidBundle("root.path", "Required value")
    root_path = (bundle / root["path"]).resolve()
    if not root_path.is_dir():
        raise InvalidBundle("root.path", f"{root_path} is not a directory")
    spec = Spec(
        process=_parse_process(process),
        root_path=str(root_path),
        root_readonly=bool(get(root, "readonly", "root", bool, False)),
        hostname=get(raw, "hostname", "", str, None),
        mounts=_parse_mounts(get(raw, "mounts", "", list, []) or []),
        **_parse_linux(get(raw, "linux", "", dict, {}) or {}),
    )
    mount_ns = spec.namespace("mount")
    if mount_ns is None or mount_ns.path:
        raise InvalidBundle("linux.namespaces", "a new mount namespace (type mount, no path) is required")
    return spec
