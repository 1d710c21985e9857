"""The pod's /etc/hosts, written by the kubelet and bind-mounted into each container, as Kubernetes does.

The kubelet (not the runtime) owns this file because only it knows the pod's subdomain and
hostAliases; a runtime sees a CRI mount at /etc/hosts and leaves its own out (containerd and
skiff-runtime both do). Content, exactly as the kubelet's ``managedHostsFileContent``:

    # Kubernetes-managed hosts file.
    127.0.0.1	localhost
    ::1	localhost ip6-localhost ip6-loopback
    fe00::0	ip6-localnet
    ...
    <podIP>	<hostname>.<subdomain>.<ns>.svc.<domain>	<hostname>   (or "<podIP>	<hostname>")

    # Entries added by HostAliases.
    <ip>	<name>	<name>...

A hostNetwork pod gets the node's own /etc/hosts instead, plus its hostAliases. A container that
mounts something at /etc/hosts itself keeps it.
"""

from __future__ import annotations

import os
from pathlib import Path

from skiff.api.core.v1 import pod_pb2

MANAGED_HEADER = "# Kubernetes-managed hosts file.\n"
HOST_NETWORK_HEADER = "# Kubernetes-managed hosts file (host network).\n"
LOCAL_LINES = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)
HOSTNAME_MAX = 63


def pod_hostname(pod: pod_pb2.Pod) -> str:
    """spec.hostname, else the pod's name cut to a DNS label (63 characters, no trailing dash/dot)."""
    if pod.spec.hostname:
        return pod.spec.hostname
    return pod.metadata.name[:HOSTNAME_MAX].rstrip("-.")


def pod_domain(pod: pod_pb2.Pod, cluster_domain: str) -> str:
    """``<subdomain>.<ns>.svc.<domain>`` when the pod has a subdomain, else empty."""
    if not pod.spec.subdomain:
        return ""
    return f"{pod.spec.subdomain}.{pod.metadata.namespace}.svc.{cluster_domain}"


def aliases_block(pod: pod_pb2.Pod) -> str:
    if not pod.spec.host_aliases:
        return ""
    lines = [f"{a.ip}\t{chr(9).join(a.hostnames)}\n" for a in pod.spec.host_aliases]
    return "\n# Entries added by HostAliases.\n" + "".join(lines)


def managed_hosts(pod: pod_pb2.Pod, pod_ips: list[str], cluster_domain: str) -> str:
    name = pod_hostname(pod)
    domain = pod_domain(pod, cluster_domain)
    text = MANAGED_HEADER + LOCAL_LINES
    for ip in pod_ips:
        text += f"{ip}\t{name}.{domain}\t{name}\n" if domain else f"{ip}\t{name}\n"
    return text + aliases_block(pod)


def host_network_hosts(pod: pod_pb2.Pod, node_hosts: str) -> str:
    if node_hosts and not node_hosts.endswith("\n"):
        node_hosts += "\n"
    return HOST_NETWORK_HEADER + node_hosts + aliases_block(pod)


def write_hosts_file(
    pod_dir: Path, pod: pod_pb2.Pod, pod_ips: list[str], cluster_domain: str, node_hosts_file: str = "/etc/hosts"
) -> str:
    """Write ``<pod dir>/etc-hosts`` atomically; returns its path for the container mount."""
    if pod.spec.host_network:
        try:
            node_hosts = Path(node_hosts_file).read_text()
        except OSError:
            node_hosts = ""
        text = host_network_hosts(pod, node_hosts)
    else:
        text = managed_hosts(pod, pod_ips, cluster_domain)
    pod_dir.mkdir(parents=True, exist_ok=True)
    path = pod_dir / "etc-hosts"
    tmp = pod_dir / ".etc-hosts.tmp"
    tmp.write_text(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return str(path)
