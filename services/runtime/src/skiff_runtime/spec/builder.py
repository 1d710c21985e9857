"""Build the OCI runtime-spec config.json for a CRI container, as containerd's CRI plugin does.

Precedence, following Kubernetes: `command` replaces the image Entrypoint and `args` replace its Cmd
(`args` alone run after the Entrypoint; neither runs Entrypoint + Cmd). Env is HOSTNAME, then the image's,
then the CRI's, a later value replacing an earlier one of the same name. The user is run_as_username, else
run_as_user[:run_as_group], else the image's User, resolved against the container's own /etc/passwd.

Namespaces: network, IPC and UTS are joined by path from the sandbox (or left out for NODE mode, which
keeps the host's); PID is private per container (CONTAINER), the host's (NODE) or another container's
(TARGET). Pod-shared PID (POD, i.e. shareProcessNamespace) is refused: without a pause process there is
no pod PID namespace to join. Mount is always new; cgroup is new on cgroup v2 (as containerd).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid

from skiff_runtime.images.store import ImageConfig
from skiff_runtime.spec import defaults
from skiff_runtime.spec.user import ResolvedUser, UserError, resolve
from skiff_runtime.store.sandbox import SandboxRecord

OCI_VERSION = "1.1.0"
_PROPAGATION = {
    cri.PROPAGATION_PRIVATE: "rprivate",
    cri.PROPAGATION_HOST_TO_CONTAINER: "rslave",
    cri.PROPAGATION_BIDIRECTIONAL: "rshared",
}


@dataclass
class SpecInputs:
    container_id: str
    config: cri.ContainerConfig
    image: ImageConfig
    sandbox: SandboxRecord
    rootfs: Path
    pod_files: dict[str, Path]  # container path -> host file (/etc/hosts, ...)
    cgroups_path: str
    unified_cgroups: bool
    target_pid: int = 0  # pid of the TARGET container, when pid mode is TARGET


@dataclass
class BuiltSpec:
    spec: dict[str, Any]
    user: ResolvedUser
    stop_signal: int


def _args(config: cri.ContainerConfig, image: ImageConfig) -> list[str]:
    if config.command:
        argv = list(config.command) + list(config.args)
    else:
        argv = list(image.entrypoint) + (list(config.args) if config.args else list(image.cmd))
    if not argv:
        raise Invalid(
            "container config is invalid",
            [
                FieldError(
                    "config.command",
                    "Required value",
                    "neither the container config nor the image specify a command",
                )
            ],
        )
    return argv


def _env(config: cri.ContainerConfig, image: ImageConfig, hostname: str) -> list[str]:
    merged: dict[str, str] = {}
    entries = [f"HOSTNAME={hostname}"] if hostname else []
    entries += list(image.env) + [f"{kv.key}={kv.value}" for kv in config.envs]
    for entry in entries:
        key, _, value = entry.partition("=")
        merged.pop(key, None)  # re-insert: a replaced variable moves to where it was set last
        merged[key] = value
    if "PATH" not in merged:
        merged = {"PATH": defaults.DEFAULT_PATH.partition("=")[2], **merged}
    return [f"{k}={v}" for k, v in merged.items()]


def _user(inputs: SpecInputs) -> ResolvedUser:
    sc = inputs.config.linux.security_context
    try:
        if sc.run_as_username:
            user = resolve(inputs.rootfs, sc.run_as_username)
        elif sc.HasField("run_as_user"):
            group = str(sc.run_as_group.value) if sc.HasField("run_as_group") else ""
            user = resolve(inputs.rootfs, str(sc.run_as_user.value), group)
        else:
            if sc.HasField("run_as_group"):
                raise Invalid(
                    "container config is invalid",
                    [
                        FieldError(
                            "config.linux.security_context.run_as_group",
                            "Invalid value",
                            "run_as_group requires run_as_user or run_as_username",
                        )
                    ],
                )
            user = resolve(inputs.rootfs, inputs.image.user)
    except UserError as err:
        raise Invalid(
            "container config is invalid",
            [FieldError("config.linux.security_context.run_as_username", "Invalid value", str(err))],
        ) from None
    extra = [g for g in sc.supplemental_groups if g not in user.additional_gids]
    if sc.supplemental_groups_policy == cri.Strict:
        user.additional_gids = list(sc.supplemental_groups)
    else:
        user.additional_gids = user.additional_gids + extra
    return user


def _capabilities(sc: cri.LinuxContainerSecurityContext) -> dict[str, list[str]]:
    if sc.privileged:
        caps = list(defaults.ALL_CAPABILITIES)
    else:
        add = [defaults.normalize_capability(c) for c in sc.capabilities.add_capabilities]
        drop = [defaults.normalize_capability(c) for c in sc.capabilities.drop_capabilities]
        caps = list(defaults.DEFAULT_CAPABILITIES)
        if "ALL" in add:
            caps = list(defaults.ALL_CAPABILITIES)
        if "ALL" in drop:
            caps = []
        for cap in add:
            if cap != "ALL" and cap not in caps:
                if cap not in defaults.ALL_CAPABILITIES:
                    raise Invalid(
                        "container config is invalid",
                        [
                            FieldError(
                                "config.linux.security_context.capabilities.add_capabilities",
                                "Unsupported value",
                                cap,
                            )
                        ],
                    )
                caps.append(cap)
        caps = [c for c in caps if c not in drop]
    ambient = [defaults.normalize_capability(c) for c in sc.capabilities.add_ambient_capabilities]
    caps += [c for c in ambient if c not in caps]
    return {
        "bounding": caps,
        "effective": caps,
        "permitted": caps,
        "inheritable": ambient,
        "ambient": ambient,
    }


def _mounts(inputs: SpecInputs, privileged: bool) -> list[dict[str, Any]]:
    mounts = defaults.base_mounts(privileged)
    wanted = {m.container_path.rstrip("/") or "/" for m in inputs.config.mounts}
    shm = inputs.sandbox.shm_path or "/dev/shm"
    if "/dev/shm" not in wanted:
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "bind",
                "source": shm,
                "options": ["rbind", "rprivate", "rw", "nosuid", "nodev", "noexec"],
            }
        )
    for dest, host in sorted(inputs.pod_files.items()):
        if dest not in wanted:
            ro = inputs.config.linux.security_context.readonly_rootfs
            mounts.append(
                {
                    "destination": dest,
                    "type": "bind",
                    "source": str(host),
                    "options": ["rbind", "rprivate", "ro" if ro else "rw"],
                }
            )
    cri_mounts: list[dict[str, Any]] = []
    for i, m in enumerate(inputs.config.mounts):
        path = f"config.mounts[{i}]"
        if m.HasField("image") and m.image.image:
            raise Invalid(
                "container config is invalid",
                [FieldError(f"{path}.image", "Unsupported value", "image volumes are not supported")],
            )
        if not m.container_path.startswith("/"):
            raise Invalid(
                "container config is invalid",
                [FieldError(f"{path}.container_path", "Invalid value", "must be an absolute path")],
            )
        if not os.path.exists(m.host_path):
            raise Invalid(
                "container config is invalid",
                [FieldError(f"{path}.host_path", "Not found", f"{m.host_path!r} does not exist on the node")],
            )
        options = ["rbind", _PROPAGATION.get(m.propagation, "rprivate"), "ro" if m.readonly else "rw"]
        cri_mounts.append(
            {
                "destination": m.container_path,
                "type": "bind",
                "source": os.path.realpath(m.host_path),
                "options": options,
            }
        )
    # parents before children, so /data is mounted before /data/cache (containerd sorts the same way)
    cri_mounts.sort(key=lambda m: len(Path(m["destination"]).parts))
    return mounts + cri_mounts


def _namespaces(inputs: SpecInputs) -> list[dict[str, str]]:
    opts = inputs.config.linux.security_context.namespace_options
    sb = inputs.sandbox
    ns: list[dict[str, str]] = [{"type": "mount"}]
    if opts.pid == cri.CONTAINER:
        ns.append({"type": "pid"})
    elif opts.pid == cri.TARGET:
        if not inputs.target_pid:
            raise Invalid(
                "container config is invalid",
                [
                    FieldError(
                        "config.linux.security_context.namespace_options.target_id",
                        "Invalid value",
                        "the target container is not running",
                    )
                ],
            )
        ns.append({"type": "pid", "path": f"/proc/{inputs.target_pid}/ns/pid"})
    elif opts.pid == cri.POD:
        raise Invalid(
            "container config is invalid",
            [
                FieldError(
                    "config.linux.security_context.namespace_options.pid",
                    "Unsupported value",
                    "POD (a pod-shared PID namespace, shareProcessNamespace) is not supported",
                )
            ],
        )
    if not sb.host_network:
        ns.append({"type": "network", "path": sb.netns_path})
        ns.append({"type": "uts", "path": sb.uts_path})
    if not sb.host_ipc:
        ns.append({"type": "ipc", "path": sb.ipc_path})
    if inputs.unified_cgroups:
        ns.append({"type": "cgroup"})
    return ns


def _resources(res: cri.LinuxContainerResources) -> dict[str, Any]:
    out: dict[str, Any] = {}
    cpu = {
        k: v
        for k, v in (
            ("shares", res.cpu_shares),
            ("quota", res.cpu_quota),
            ("period", res.cpu_period),
            ("cpus", res.cpuset_cpus),
            ("mems", res.cpuset_mems),
        )
        if v
    }
    if cpu:
        out["cpu"] = cpu
    memory = {
        k: v for k, v in (("limit", res.memory_limit_in_bytes), ("swap", res.memory_swap_limit_in_bytes)) if v
    }
    if memory:
        out["memory"] = memory
    if res.hugepage_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit} for h in res.hugepage_limits]
    if res.unified:
        out["unified"] = dict(res.unified)
    return out


def stop_signal(config: cri.ContainerConfig, image: ImageConfig) -> int:
    if config.stop_signal != cri.RUNTIME_DEFAULT:
        return _signal_number(cri.Signal.Name(config.stop_signal), "config.stop_signal")
    if image.stop_signal:
        return _signal_number(image.stop_signal, "image.config.StopSignal")
    return int(signal.SIGTERM)


def _signal_number(name: str, field: str) -> int:
    if name.isdigit():
        return int(name)
    upper = name.upper()
    upper = upper if upper.startswith("SIG") else f"SIG{upper}"
    if upper.startswith("SIGRTMINPLUS"):
        return int(signal.SIGRTMIN) + int(upper.removeprefix("SIGRTMINPLUS"))
    if upper.startswith("SIGRTMAXMINUS"):
        return int(signal.SIGRTMAX) - int(upper.removeprefix("SIGRTMAXMINUS"))
    try:
        return int(getattr(signal.Signals, upper.replace("SIGCLD", "SIGCHLD").replace("SIGPOLL", "SIGIO")))
    except AttributeError:
        raise Invalid("container config is invalid", [FieldError(field, "Unsupported value", name)]) from None


def build(inputs: SpecInputs) -> BuiltSpec:
    config = inputs.config
    sc = config.linux.security_context
    if config.tty or config.stdin:
        field = "config.tty" if config.tty else "config.stdin"
        raise Invalid(
            "container config is invalid",
            [FieldError(field, "Unsupported value", "interactive containers are not supported")],
        )
    if sc.privileged and not inputs.sandbox.privileged:
        raise Invalid(
            "container config is invalid",
            [
                FieldError(
                    "config.linux.security_context.privileged",
                    "Forbidden",
                    "the pod sandbox is not privileged",
                )
            ],
        )
    user = _user(inputs)
    process: dict[str, Any] = {
        "terminal": False,
        "args": _args(config, inputs.image),
        "env": _env(config, inputs.image, inputs.sandbox.hostname),
        "cwd": config.working_dir or inputs.image.working_dir or "/",
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "capabilities": _capabilities(sc),
        "noNewPrivileges": sc.no_new_privs,
    }
    if config.linux.resources.oom_score_adj:
        process["oomScoreAdj"] = config.linux.resources.oom_score_adj
    linux: dict[str, Any] = {
        "namespaces": _namespaces(inputs),
        "cgroupsPath": inputs.cgroups_path,
        "resources": _resources(config.linux.resources),
        "maskedPaths": [] if sc.privileged else (list(sc.masked_paths) or list(defaults.MASKED_PATHS)),
        "readonlyPaths": [] if sc.privileged else (list(sc.readonly_paths) or list(defaults.READONLY_PATHS)),
    }
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": str(inputs.rootfs), "readonly": sc.readonly_rootfs},
        "mounts": _mounts(inputs, sc.privileged),
        "linux": linux,
        "annotations": {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.sandbox-id": inputs.sandbox.id,
            "io.kubernetes.cri.container-name": config.metadata.name,
        },
    }
    # No "hostname": the pod's UTS namespace got its hostname when the sandbox was created, and a
    # host-network pod keeps the node's.
    return BuiltSpec(spec=spec, user=user, stop_signal=stop_signal(config, inputs.image))
