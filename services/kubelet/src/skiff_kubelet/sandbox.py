"""Pod -> CRI PodSandboxConfig (a pure function of the pod and kubelet settings).

The same config must be rebuilt identically for CreateContainer's ``sandbox_config`` on every sync,
so nothing here reads clocks or runtime state (the node's resolv.conf is read once, into ClusterDNS).
"""

from __future__ import annotations

from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_kubelet import labels as L
from skiff_kubelet import security
from skiff_kubelet.dns import ClusterDNS, pod_dns_config
from skiff_kubelet.env import ConfigError
from skiff_kubelet.hosts import pod_hostname
from skiff_kubelet.userns import PodIdRange

_PROTOCOLS = {"TCP": cri.TCP, "UDP": cri.UDP, "SCTP": cri.SCTP, "": cri.TCP}


def pod_log_directory(pod_log_dir: str, pod: pod_pb2.Pod) -> str:
    m = pod.metadata
    return str(Path(pod_log_dir) / f"{m.namespace}_{m.name}_{m.uid}")


def sandbox_labels(pod: pod_pb2.Pod) -> dict[str, str]:
    m = pod.metadata
    out = dict(m.labels)
    out.update({L.POD_NAME: m.name, L.POD_NAMESPACE: m.namespace, L.POD_UID: m.uid, L.MANAGED_BY: L.MANAGED_BY_VALUE})
    return out


def build_sandbox_config(
    pod: pod_pb2.Pod,
    *,
    pod_log_dir: str,
    attempt: int = 0,
    cgroup_root: str = "skiff",
    cluster_dns: ClusterDNS | None = None,
    seccomp_default: bool = False,
    seccomp_root: Path = Path("/var/lib/skiff/kubelet/seccomp"),
    userns: PodIdRange | None = None,
) -> cri.PodSandboxConfig:
    """The sandbox is privileged when any container is (``security.pod_is_privileged``). ``userns``: the
    pod's id range (``hostUsers: false``, from ``userns.UsernsManager``), sent as userns_options POD."""
    m = pod.metadata
    spec = pod.spec
    ports = [
        cri.PortMapping(
            protocol=_PROTOCOLS.get(p.protocol, cri.TCP),
            container_port=p.container_port,
            host_port=p.host_port,
            host_ip=p.host_ip,
        )
        for c in spec.containers
        for p in c.ports
        if p.host_port
    ]
    ns_opts = cri.NamespaceOption(
        network=cri.NODE if spec.host_network else cri.POD,
        pid=cri.NODE if spec.host_pid else (cri.POD if spec.share_process_namespace else cri.CONTAINER),
        ipc=cri.NODE if spec.host_ipc else cri.POD,
    )
    if userns is not None:
        ns_opts.userns_options.CopyFrom(userns.to_cri())
    sc = spec.security_context
    sec = cri.LinuxSandboxSecurityContext(
        namespace_options=ns_opts,
        supplemental_groups=list(sc.supplemental_groups),
        privileged=security.pod_is_privileged(pod),
    )
    try:
        sec.seccomp.CopyFrom(
            security.seccomp_profile(pod, None, seccomp_default=seccomp_default, seccomp_root=seccomp_root)
        )
    except ConfigError:
        pass  # reported by each container that uses the pod's profile (CreateContainerConfigError)
    if sc.HasField("run_as_user"):
        sec.run_as_user.value = sc.run_as_user
    if sc.HasField("run_as_group"):
        sec.run_as_group.value = sc.run_as_group
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=m.name, uid=m.uid, namespace=m.namespace, attempt=attempt),
        hostname=pod_hostname(pod),
        log_directory=pod_log_directory(pod_log_dir, pod),
        dns_config=pod_dns_config(pod, cluster_dns or ClusterDNS()),
        port_mappings=ports,
        labels=sandbox_labels(pod),
        annotations=dict(m.annotations),
        linux=cri.LinuxPodSandboxConfig(
            # cgroupfs syntax; the runtime creates it and puts each container below it
            cgroup_parent=f"/{cgroup_root.strip('/')}/pod{m.uid}",
            security_context=sec,
            sysctls={s.name: s.value for s in sc.sysctls},
        ),
    )
