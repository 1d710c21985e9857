"""Build the OCI runtime-spec config.json for a CRI container, as containerd's CRI plugin does.

The process section (argv with Kubernetes' command/args rules, env, user, capabilities, stop signal)
is built by `process`; mounts, namespaces, cgroup and resources here.

Namespaces: network, IPC and UTS are joined by path from the sandbox (or left out for NODE mode, which
keeps the host's); PID is private per container (CONTAINER), the host's (NODE), another container's
(TARGET) or the pod's (POD, shareProcessNamespace: the sandbox's PID-namespace init, see
sandbox/pidns.py). Mount is always new; cgroup is new on cgroup v2 (as containerd). A pod with its own
user namespace (``hostUsers: false``) is joined by path too, with its mappings in ``linux.uidMappings``
and ``gidMappings`` (runc and crun want them beside the path); a CRI mount with ``uidMappings`` becomes
an OCI idmapped mount (the kubelet asks for every volume but hostPath). The seccomp
profile is resolved by `seccomp` (none for privileged containers). A privileged container also gets
every capability, the host's devices (allowed in its device cgroup), writable /sys and no masked paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.errors import FieldError, Invalid

from skiff_runtime.images.store import ImageConfig
from skiff_runtime.spec import defaults, process, seccomp
from skiff_runtime.spec.user import ResolvedUser
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
        mount: dict[str, Any] = {
            "destination": m.container_path,
            "type": "bind",
            "source": os.path.realpath(m.host_path),
            "options": options,
        }
        if m.uidMappings or m.gidMappings:
            if not inputs.sandbox.userns_path:
                raise Invalid(
                    "container config is invalid",
                    [FieldError(f"{path}.uidMappings", "Forbidden", "idmapped mounts need a pod user namespace")],
                )
            mount["uidMappings"] = _oci_maps(m.uidMappings)
            mount["gidMappings"] = _oci_maps(m.gidMappings)
        cri_mounts.append(mount)
    # parents before children, so /data is mounted before /data/cache (containerd sorts the same way)
    cri_mounts.sort(key=lambda m: len(Path(m["destination"]).parts))
    return mounts + cri_mounts


def _oci_maps(maps: Any) -> list[dict[str, int]]:
    return [{"containerID": m.container_id, "hostID": m.host_id, "size": m.length} for m in maps]


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
        if not sb.pause_pid:
            raise Invalid(
                "container config is invalid",
                [
                    FieldError(
                        "config.linux.security_context.namespace_options.pid",
                        "Invalid value",
                        "POD: the pod sandbox was not created with a pod-wide PID namespace",
                    )
                ],
            )
        ns.append({"type": "pid", "path": f"/proc/{sb.pause_pid}/ns/pid"})
    if not sb.host_network:
        ns.append({"type": "network", "path": sb.netns_path})
        ns.append({"type": "uts", "path": sb.uts_path})
    if not sb.host_ipc:
        ns.append({"type": "ipc", "path": sb.ipc_path})
    if inputs.unified_cgroups:
        ns.append({"type": "cgroup"})
    if sb.userns_path:
        ns.append({"type": "user", "path": sb.userns_path})
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
    memory = {k: v for k, v in (("limit", res.memory_limit_in_bytes), ("swap", res.memory_swap_limit_in_bytes)) if v}
    if memory:
        out["memory"] = memory
    if res.hugepage_limits:
        out["hugepageLimits"] = [{"pageSize": h.page_size, "limit": h.limit} for h in res.hugepage_limits]
    if res.unified:
        out["unified"] = dict(res.unified)
    return out


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
    user = process.user(config, inputs.image, inputs.rootfs)
    proc: dict[str, Any] = {
        "terminal": False,
        "args": process.args(config, inputs.image),
        "env": process.env(config, inputs.image, inputs.sandbox.hostname),
        "cwd": config.working_dir or inputs.image.working_dir or "/",
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "capabilities": process.capabilities(sc),
        "noNewPrivileges": sc.no_new_privs,
    }
    if config.linux.resources.oom_score_adj:
        proc["oomScoreAdj"] = config.linux.resources.oom_score_adj
    linux: dict[str, Any] = {
        "namespaces": _namespaces(inputs),
        "cgroupsPath": inputs.cgroups_path,
        "resources": _resources(config.linux.resources),
        "maskedPaths": [] if sc.privileged else (list(sc.masked_paths) or list(defaults.MASKED_PATHS)),
        "readonlyPaths": [] if sc.privileged else (list(sc.readonly_paths) or list(defaults.READONLY_PATHS)),
    }
    if inputs.sandbox.userns_path:
        linux["uidMappings"] = [{"containerID": c, "hostID": h, "size": n} for c, h, n in inputs.sandbox.uid_maps]
        linux["gidMappings"] = [{"containerID": c, "hostID": h, "size": n} for c, h, n in inputs.sandbox.gid_maps]
    if sc.privileged:  # every host device, and the cgroup lets them be used
        linux["devices"] = defaults.host_devices()
        linux["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
    profile = seccomp.linux_seccomp(sc)
    if profile is not None:
        linux["seccomp"] = profile
    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": proc,
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
    return BuiltSpec(spec=spec, user=user, stop_signal=process.stop_signal(config, inputs.image))
