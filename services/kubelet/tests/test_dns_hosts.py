"""Pod DNS by dnsPolicy, the node's resolv.conf, and the kubelet-managed /etc/hosts (tables)."""

from __future__ import annotations

from pathlib import Path

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_kubelet.dns import ClusterDNS, HostDNS, parse_resolv_conf, pod_dns_config
from skiff_kubelet.hosts import managed_hosts, write_hosts_file
from skiff_kubelet.sandbox import build_sandbox_config

HOST = HostDNS(servers=("192.0.2.53",), searches=("corp.example",), options=("edns0",))
CLUSTER = ClusterDNS(servers=("10.96.0.10",), domain="cluster.local", host=HOST)
NO_CLUSTER_DNS = ClusterDNS(servers=(), domain="cluster.local", host=HOST)
CLUSTER_SEARCH = ["web.svc.cluster.local", "svc.cluster.local", "cluster.local"]


def make_pod(policy: str = "", host_network: bool = False, **dns: list[str]) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="p", namespace="web", uid="u"))
    pod.spec.dns_policy = policy
    pod.spec.host_network = host_network
    pod.spec.dns_config.nameservers.extend(dns.get("nameservers", []))
    pod.spec.dns_config.searches.extend(dns.get("searches", []))
    for option in dns.get("options", []):
        name, _, value = option.partition(":")
        o = pod.spec.dns_config.options.add(name=name)
        if value:
            o.value = value
    return pod


DNS_CASES = [
    # (id, pod, cluster, servers, searches, options)
    ("ClusterFirst (default)", make_pod(), CLUSTER, ["10.96.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"]),
    ("ClusterFirst", make_pod("ClusterFirst"), CLUSTER, ["10.96.0.10"], [*CLUSTER_SEARCH, "corp.example"], ["ndots:5"]),
    (
        "ClusterFirst + hostNetwork = Default",
        make_pod("ClusterFirst", True),
        CLUSTER,
        ["192.0.2.53"],
        ["corp.example"],
        ["edns0"],
    ),
    (
        "ClusterFirstWithHostNet",
        make_pod("ClusterFirstWithHostNet", True),
        CLUSTER,
        ["10.96.0.10"],
        [*CLUSTER_SEARCH, "corp.example"],
        ["ndots:5"],
    ),
    ("Default", make_pod("Default"), CLUSTER, ["192.0.2.53"], ["corp.example"], ["edns0"]),
    (
        "no cluster DNS: ClusterFirst falls back to Default",
        make_pod(),
        NO_CLUSTER_DNS,
        ["192.0.2.53"],
        ["corp.example"],
        ["edns0"],
    ),
    (
        "None: only dnsConfig",
        make_pod("None", nameservers=["1.2.3.4"], searches=["a.example"], options=["ndots:2"]),
        CLUSTER,
        ["1.2.3.4"],
        ["a.example"],
        ["ndots:2"],
    ),
    (
        "ClusterFirst + dnsConfig: appended, options merged by name",
        make_pod(
            nameservers=["1.2.3.4", "10.96.0.10"],
            searches=["a.example", "svc.cluster.local"],
            options=["ndots:2", "edns0", "single-request"],
        ),
        CLUSTER,
        ["10.96.0.10", "1.2.3.4"],
        [*CLUSTER_SEARCH, "corp.example", "a.example"],
        ["ndots:2", "edns0", "single-request"],
    ),
    (
        "at most 3 nameservers",
        make_pod("None", nameservers=["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"]),
        CLUSTER,
        ["1.1.1.1", "2.2.2.2", "3.3.3.3"],
        [],
        [],
    ),
    (
        "at most 32 search domains",
        make_pod("None", searches=[f"d{i}.example" for i in range(40)]),
        CLUSTER,
        [],
        [f"d{i}.example" for i in range(32)],
        [],
    ),
]


@pytest.mark.parametrize(
    ("pod", "cluster", "servers", "searches", "options"), [c[1:] for c in DNS_CASES], ids=[c[0] for c in DNS_CASES]
)
def test_pod_dns_config(
    pod: pod_pb2.Pod, cluster: ClusterDNS, servers: list[str], searches: list[str], options: list[str]
) -> None:
    cfg = pod_dns_config(pod, cluster)
    assert (list(cfg.servers), list(cfg.searches), list(cfg.options)) == (servers, searches, options)


def test_the_sandbox_carries_the_pods_dns() -> None:
    cfg = build_sandbox_config(make_pod(), pod_log_dir="/l", cluster_dns=CLUSTER)
    assert list(cfg.dns_config.servers) == ["10.96.0.10"]
    assert list(cfg.dns_config.searches)[:3] == CLUSTER_SEARCH


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch a.example b.example.\noptions ndots:2 edns0\n",
            HostDNS(("192.0.2.1", "192.0.2.2"), ("a.example", "b.example"), ("ndots:2", "edns0")),
        ),
        (
            "# systemd-resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n",
            HostDNS((), (), ("edns0", "trust-ad")),
        ),
        (
            "search old.example\ndomain new.example ; comment\nnameserver ::1\nnameserver 2001:db8::1\n",
            HostDNS(("2001:db8::1",), ("new.example",), ()),
        ),
        ("", HostDNS()),
    ],
    ids=["plain", "loopback resolver dropped", "last search/domain wins", "empty"],
)
def test_parse_resolv_conf(text: str, expected: HostDNS) -> None:
    assert parse_resolv_conf(text) == expected


LOCAL = (
    "# Kubernetes-managed hosts file.\n"
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "fe00::0\tip6-mcastprefix\n"
    "fe00::1\tip6-allnodes\n"
    "fe00::2\tip6-allrouters\n"
)


def hosts_pod(hostname: str = "", subdomain: str = "", aliases: dict[str, list[str]] | None = None) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name="web-0", namespace="shop"))
    pod.spec.hostname, pod.spec.subdomain = hostname, subdomain
    for ip, names in (aliases or {}).items():
        pod.spec.host_aliases.add(ip=ip, hostnames=names)
    return pod


HOSTS_CASES = [
    ("name only", hosts_pod(), ["10.244.0.5"], LOCAL + "10.244.0.5\tweb-0\n"),
    ("hostname", hosts_pod(hostname="db"), ["10.244.0.5"], LOCAL + "10.244.0.5\tdb\n"),
    (
        "hostname + subdomain: the FQDN first",
        hosts_pod(hostname="db", subdomain="backend"),
        ["10.244.0.5"],
        LOCAL + "10.244.0.5\tdb.backend.shop.svc.cluster.local\tdb\n",
    ),
    (
        "subdomain without hostname uses the pod name",
        hosts_pod(subdomain="backend"),
        ["10.244.0.5", "fd00::5"],
        LOCAL
        + "10.244.0.5\tweb-0.backend.shop.svc.cluster.local\tweb-0\n"
        + "fd00::5\tweb-0.backend.shop.svc.cluster.local\tweb-0\n",
    ),
    (
        "hostAliases",
        hosts_pod(aliases={"127.0.0.1": ["foo.local", "bar.local"], "10.1.2.3": ["foo.remote"]}),
        ["10.244.0.5"],
        LOCAL
        + "10.244.0.5\tweb-0\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n"
        + "10.1.2.3\tfoo.remote\n",
    ),
]


@pytest.mark.parametrize(("pod", "ips", "expected"), [c[1:] for c in HOSTS_CASES], ids=[c[0] for c in HOSTS_CASES])
def test_managed_hosts(pod: pod_pb2.Pod, ips: list[str], expected: str) -> None:
    assert managed_hosts(pod, ips, "cluster.local") == expected


def test_host_network_pod_gets_the_nodes_hosts_plus_aliases(tmp_path: Path) -> None:
    node_hosts = tmp_path / "hosts"
    node_hosts.write_text("127.0.0.1 localhost\n192.0.2.7 node-1")
    pod = hosts_pod(aliases={"10.1.2.3": ["foo.remote"]})
    pod.spec.host_network = True
    path = write_hosts_file(tmp_path / "pod", pod, ["192.0.2.7"], "cluster.local", str(node_hosts))
    assert Path(path).read_text() == (
        "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.0.2.7 node-1\n"
        "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\n"
    )


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        ({}, ""),
        ({"cluster_dns": "10.96.0.10,fd00::a"}, ""),
        ({"cluster_dns": ""}, ""),  # no cluster DNS: ClusterFirst pods get the node's
        ({"cluster_dns": "10.96.0.300"}, "--cluster-dns: '10.96.0.300' is not an IP address"),
        ({"cluster_domain": "Cluster_Local"}, "--cluster-domain: 'Cluster_Local' is not a DNS domain"),
        ({"cluster_domain": "k8s.example."}, ""),
    ],
)
def test_dns_flags_are_validated(flags: dict[str, str], error: str) -> None:
    from skiff_kubelet.config import KubeletConfig

    cfg = KubeletConfig(node_name="n", **flags)  # type: ignore[arg-type]
    if not error:
        cfg.validate()
        return
    with pytest.raises(ValueError, match=error.replace("(", r"\(")):
        cfg.validate()
