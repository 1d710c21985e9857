"""Pod -> CRI PodSandboxConfig (a pure function of the pod and kubelet settings).

The same config must be rebuilt identically for CreateContainer's ``sandbox_config`` on every sync,
so nothing here reads clocks or runtime state.
"""

from __future__ import annotations

from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

from skiff_kubelet import labels as L

_PROTOCOLS = {"TCP": cri.TCP, "UDP": cri.UDP, "SCTP": cri.SCTP, "": cri.TCP}


def pod_log_directory(pod_log_dir: str, pod: pod_pb2.Pod) -> str:
    m = pod.metadata
    return str(Path(pod_log_dir) / f"{m.namespace}_{m.name}_{m.uid}")


def host_dns_servers(resolv_conf: str = "/etc/resolv.conf") -> tuple[list[str], list[str]]:
    """Nameservers and search domains of the host, minus loopback servers that would be
    unreachable from a pod's own network namespace (systemd-resolved's 127.0.0.53)."""
    servers: list[str] = []
    searches: list[str] = []
    try:
        text = Path(resolv_conf).read_text()
    except OSError:
        return servers, searches
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver" and not parts[1].startswith(("127.", "::1")):
            servers.append(parts[1])
        elif parts and parts[0] == "search":
            searches = parts[1:]
    return servers, searches


def dns_config(pod: pod_pb2.Pod) -> cri.DNSConfig:
    spec = pod.spec
    servers: list[str] = []
    searches: list[str] = []
    if spec.dns_policy != "None":
        # No cluster DNS in Skiff yet: ClusterFirst behaves like Default (the host's resolvers).
        servers, searches = host_dns_servers()
    cfg = spec.dns_config
    servers = servers + list(cfg.nameservers)
    searches = searches + list(cfg.searches)
    options = [f"{o.name}:{o.value}" if o.HasField("value") else o.name for o in cfg.options]
    return cri.DNSConfig(servers=servers, searches=searches, options=options)


def sandbox_labels(pod: pod_pb2.Pod) -> dict[str, str]:
    m = pod.metadata
    out = dict(m.labels)
    out.update({L.POD_NAME: m.name, L.POD_NAMESPACE: m.namespace, L.POD_UID: m.uid, L.MANAGED_BY: L.MANAGED_BY_VALUE})
    return out


def build_sandbox_config(
    pod: pod_pb2.Pod, *, pod_log_dir: str, attempt: int = 0, cgroup_root: str = "skiff"
) -> cri.PodSandboxConfig:
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
    sc = spec.security_context
    sec = cri.LinuxSandboxSecurityContext(namespace_options=ns_opts, supplemental_groups=list(sc.supplemental_groups))
    if sc.HasField("run_as_user"):
        sec.run_as_user.value = sc.run_as_user
    if sc.HasField("run_as_group"):
        sec.run_as_group.value = sc.run_as_group
    return cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(name=m.name, uid=m.uid, namespace=m.namespace, attempt=attempt),
        hostname=spec.hostname or m.name,
        log_directory=pod_log_directory(pod_log_dir, pod),
        dns_config=dns_config(pod),
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
