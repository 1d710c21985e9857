"""Container spec -> CRI ContainerConfig (pure; env and volume paths are resolved by the caller).

Resources follow the kubelet's cgroup maths: cpu.shares = requests.cpu in milli * 1024 / 1000
(minimum 2), cfs quota = limits.cpu in milli * period / 1000 with period 100 ms, memory limit in bytes.
A container with a CPU limit but no request gets shares from the limit (Kubernetes defaults requests
to limits). Log path is ``<container>/<restartCount>.log`` relative to the sandbox log directory.
"""

from __future__ import annotations

from pathlib import Path

from skiff.api.core.v1 import container_pb2, pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_common.apimachinery import quantity

from skiff_kubelet import labels as L
from skiff_kubelet import security
from skiff_kubelet.env import ConfigError
from skiff_kubelet.userns import PodIdRange

CPU_PERIOD_US = 100_000
MIN_SHARES = 2

_PROPAGATION = {
    "HostToContainer": cri.PROPAGATION_HOST_TO_CONTAINER,
    "Bidirectional": cri.PROPAGATION_BIDIRECTIONAL,
}


def container_log_path(name: str, attempt: int) -> str:
    return f"{name}/{attempt}.log"


def linux_resources(c: container_pb2.Container) -> cri.LinuxContainerResources:
    res = cri.LinuxContainerResources()
    limits, requests = c.resources.limits, c.resources.requests
    cpu_req = requests.get("cpu") or limits.get("cpu")
    if cpu_req is not None and cpu_req.value:
        res.cpu_shares = max(MIN_SHARES, quantity.milli_value(cpu_req.value) * 1024 // 1000)
    else:
        res.cpu_shares = MIN_SHARES  # BestEffort: the kernel's minimum weight, as Kubernetes does
    if "cpu" in limits and limits["cpu"].value:
        res.cpu_period = CPU_PERIOD_US
        res.cpu_quota = max(1000, quantity.milli_value(limits["cpu"].value) * CPU_PERIOD_US // 1000)
    if "memory" in limits and limits["memory"].value:
        res.memory_limit_in_bytes = quantity.int_value(limits["memory"].value)
    return res


def mounts(
    c: container_pb2.Container,
    volume_paths: dict[str, str],
    userns: PodIdRange | None = None,
    host_paths: frozenset[str] = frozenset(),
) -> list[cri.Mount]:
    """In a user namespace every volume is idmapped to the pod's range (its files look as they do on
    disk: root's stay root's) except the ``host_paths`` (hostPath volumes): the host's files keep their
    host owners, so the host root's show as nobody and stay out of the pod's reach."""
    out = []
    for vm in c.volume_mounts:
        if vm.name not in volume_paths:
            raise ConfigError(f'volumeMount "{vm.name}": no volume of that name in the pod')
        host = Path(volume_paths[vm.name])
        if vm.sub_path:
            if vm.sub_path.startswith("/") or ".." in Path(vm.sub_path).parts:
                raise ConfigError(f'volumeMount "{vm.name}": subPath must be a relative path without ".."')
            host = host / vm.sub_path
            if not host.exists():
                host.mkdir(parents=True, exist_ok=True)
        mount = cri.Mount(
            container_path=vm.mount_path,
            host_path=str(host),
            readonly=vm.read_only,
            propagation=_PROPAGATION.get(vm.mount_propagation, cri.PROPAGATION_PRIVATE),
        )
        if userns is not None and vm.name not in host_paths:
            mount.uidMappings.extend(userns.mappings())
            mount.gidMappings.extend(userns.mappings())
        out.append(mount)
    return out


def security_context(
    pod: pod_pb2.Pod,
    c: container_pb2.Container,
    *,
    seccomp_default: bool = False,
    seccomp_root: Path = Path("/var/lib/skiff/kubelet/seccomp"),
    userns: PodIdRange | None = None,
) -> cri.LinuxContainerSecurityContext:
    """fsGroup joins the supplemental groups, as the kubelet's determineEffectiveSecurityContext does;
    seccomp as ``security.seccomp_profile`` decides."""
    psc, csc = pod.spec.security_context, c.security_context
    spec = pod.spec
    sec = cri.LinuxContainerSecurityContext(
        namespace_options=cri.NamespaceOption(
            network=cri.NODE if spec.host_network else cri.POD,
            pid=cri.NODE if spec.host_pid else (cri.POD if spec.share_process_namespace else cri.CONTAINER),
            ipc=cri.NODE if spec.host_ipc else cri.POD,
        ),
        privileged=csc.privileged if csc.HasField("privileged") else False,
        readonly_rootfs=csc.read_only_root_filesystem if csc.HasField("read_only_root_filesystem") else False,
        no_new_privs=csc.HasField("allow_privilege_escalation") and not csc.allow_privilege_escalation,
        supplemental_groups=list(psc.supplemental_groups)
        + ([psc.fs_group] if psc.HasField("fs_group") and psc.fs_group not in psc.supplemental_groups else []),
        seccomp=security.seccomp_profile(pod, c, seccomp_default=seccomp_default, seccomp_root=seccomp_root),
        capabilities=cri.Capability(
            add_capabilities=list(csc.capabilities.add), drop_capabilities=list(csc.capabilities.drop)
        ),
    )
    uid = csc.run_as_user if csc.HasField("run_as_user") else (psc.run_as_user if psc.HasField("run_as_user") else None)
    gid = (
        csc.run_as_group
        if csc.HasField("run_as_group")
        else (psc.run_as_group if psc.HasField("run_as_group") else None)
    )
    if userns is not None:
        sec.namespace_options.userns_options.CopyFrom(userns.to_cri())
    if uid is not None:
        sec.run_as_user.value = uid
    if gid is not None:
        sec.run_as_group.value = gid
    return sec


def build_container_config(
    pod: pod_pb2.Pod,
    c: container_pb2.Container,
    *,
    attempt: int,
    image_ref: str,
    env: list[tuple[str, str]],
    volume_paths: dict[str, str],
    init: bool = False,
    hosts_path: str = "",
    seccomp_default: bool = False,
    seccomp_root: Path = Path("/var/lib/skiff/kubelet/seccomp"),
    userns: PodIdRange | None = None,
) -> cri.ContainerConfig:
    """``hosts_path``: the kubelet's /etc/hosts for the pod (``hosts.py``), mounted unless the
    container mounts a volume at /etc/hosts itself. ``userns``: the pod's id range (``hostUsers: false``)."""
    m = pod.metadata
    host_paths = frozenset(v.name for v in pod.spec.volumes if v.HasField("host_path"))
    container_mounts = mounts(c, volume_paths, userns, host_paths)
    if hosts_path and not any(x.container_path.rstrip("/") == "/etc/hosts" for x in container_mounts):
        hosts = cri.Mount(container_path="/etc/hosts", host_path=hosts_path)
        if userns is not None:
            hosts.uidMappings.extend(userns.mappings())
            hosts.gidMappings.extend(userns.mappings())
        container_mounts.append(hosts)
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=c.name, attempt=attempt),
        image=cri.ImageSpec(image=image_ref, user_specified_image=c.image),
        command=list(c.command),
        args=list(c.args),
        working_dir=c.working_dir,
        envs=[cri.KeyValue(key=k, value=v) for k, v in env],
        mounts=container_mounts,
        labels={
            L.POD_NAME: m.name,
            L.POD_NAMESPACE: m.namespace,
            L.POD_UID: m.uid,
            L.CONTAINER_NAME: c.name,
            L.MANAGED_BY: L.MANAGED_BY_VALUE,
        },
        annotations={L.CONTAINER_KIND: "init" if init else "app"},
        log_path=container_log_path(c.name, attempt),
        stdin=c.stdin,
        stdin_once=c.stdin_once,
        tty=c.tty,
        linux=cri.LinuxContainerConfig(
            resources=linux_resources(c),
            security_context=security_context(
                pod, c, seccomp_default=seccomp_default, seccomp_root=seccomp_root, userns=userns
            ),
        ),
    )
