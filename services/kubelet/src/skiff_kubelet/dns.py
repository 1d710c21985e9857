"""A pod's DNS: the CRI DNSConfig (the runtime writes it as /etc/resolv.conf) by dnsPolicy, as the kubelet.

Kubernetes' rules (``pkg/kubelet/network/dns``), pure here so they are table-tested:

* ClusterFirst (the default)  -> nameservers = ``--cluster-dns``; search ``<ns>.svc.<domain>
                                 svc.<domain> <domain>`` followed by the node's own search domains;
                                 ``options ndots:5``. A hostNetwork pod gets Default instead.
* ClusterFirstWithHostNet     -> ClusterFirst, for hostNetwork pods too.
* Default                     -> the node's resolv.conf (nameservers, search, options).
* None                        -> nothing but what ``dnsConfig`` says.
* No ``--cluster-dns`` set    -> ClusterFirst falls back to Default, as the kubelet does.

``spec.dnsConfig`` is then merged in: nameservers and searches appended without duplicates, options
merged by name (the pod's value wins). The result is cut to the resolver's limits (3 nameservers, 32
search domains of at most 2048 characters in all), as the kubelet does. Loopback nameservers of the
node (systemd-resolved's 127.0.0.53) are dropped: they do not answer inside a pod's own network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from skiff.api.core.v1 import pod_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri

MAX_NAMESERVERS = 3
MAX_SEARCHES = 32
MAX_SEARCH_CHARS = 2048
DEFAULT_OPTIONS = ("ndots:5",)


@dataclass(frozen=True)
class HostDNS:
    """What the node's resolv.conf says."""

    servers: tuple[str, ...] = ()
    searches: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClusterDNS:
    servers: tuple[str, ...] = ()  # --cluster-dns; empty: no cluster DNS
    domain: str = "cluster.local"  # --cluster-domain
    host: HostDNS = field(default_factory=HostDNS)


def parse_resolv_conf(text: str) -> HostDNS:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split(";", 1)[0].split()
        if not parts:
            continue
        if parts[0] == "nameserver" and len(parts) >= 2 and not parts[1].startswith(("127.", "::1")):
            servers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            # the last search/domain line wins, as in resolv.conf(5); trailing dots are dropped
            searches = [s.rstrip(".") for s in parts[1:] if s.rstrip(".")]
        elif parts[0] == "options":
            options = _merge_options(options, parts[1:])
    return HostDNS(tuple(servers), tuple(searches), tuple(options))


def read_host_dns(path: str = "/etc/resolv.conf") -> HostDNS:
    """The node's resolver settings, read once at start (``--resolv-conf``; empty: none)."""
    if not path:
        return HostDNS()
    try:
        return parse_resolv_conf(Path(path).read_text())
    except OSError:
        return HostDNS()


def effective_policy(pod: pod_pb2.Pod, cluster: ClusterDNS) -> str:
    """ClusterFirst, Default or None: what the pod's dnsPolicy means on this node."""
    policy = pod.spec.dns_policy or "ClusterFirst"
    if policy == "None":
        return "None"
    if policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not pod.spec.host_network):
        return "ClusterFirst" if cluster.servers else "Default"
    return "Default"


def cluster_searches(namespace: str, domain: str) -> list[str]:
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain] if domain else []


def pod_dns_config(pod: pod_pb2.Pod, cluster: ClusterDNS) -> cri.DNSConfig:
    policy = effective_policy(pod, cluster)
    host = cluster.host
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    if policy == "ClusterFirst":
        servers = list(cluster.servers)
        searches = _unique(cluster_searches(pod.metadata.namespace, cluster.domain) + list(host.searches))
        options = list(DEFAULT_OPTIONS)
    elif policy == "Default":
        servers, searches, options = list(host.servers), list(host.searches), list(host.options)
    cfg = pod.spec.dns_config
    servers = _unique(servers + list(cfg.nameservers))
    searches = _unique(searches + list(cfg.searches))
    pod_options = [f"{o.name}:{o.value}" if o.value else o.name for o in cfg.options]
    options = _merge_options(options, pod_options)
    return cri.DNSConfig(servers=servers[:MAX_NAMESERVERS], searches=_fit_searches(searches), options=options)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))


def _merge_options(base: list[str], extra: list[str]) -> list[str]:
    """Options by name, a later value replacing an earlier one in place (``ndots:5`` + ``ndots:2``)."""
    merged: dict[str, str] = {}
    for option in base + extra:
        merged[option.split(":", 1)[0]] = option
    return list(merged.values())


def _fit_searches(searches: list[str]) -> list[str]:
    out: list[str] = []
    length = 0
    for s in searches[:MAX_SEARCHES]:
        length += len(s) + (1 if out else 0)
        if length > MAX_SEARCH_CHARS:
            break
        out.append(s)
    return out
