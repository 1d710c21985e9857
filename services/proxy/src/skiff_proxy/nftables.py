"""The nftables ruleset for a set of ServicePorts: a pure function from values to `nft -f` text.

The layout is kube-proxy's nftables mode, in one table of our own (``ip skiff-proxy``) that nothing else
writes and that we never leave half-built: every sync is one transaction that declares the table,
deletes it and declares it again with its whole content, so the kernel switches from the old ruleset to
the new one atomically (established connections keep their NAT in conntrack, which a rebuild does not
touch).

    nat-prerouting / nat-output (dstnat) -> services:
        ip daddr . l4proto . dport  vmap @service-ips        -> svc chain
        ip daddr @nodeport-ips  l4proto . dport vmap @service-nodeports -> ext chain -> svc chain
    svc chain:  masquerade traffic from outside the pod CIDR; ClientIP affinity (per-endpoint timeout
                sets); numgen random mod N vmap -> one endpoint chain, each with probability 1/N
    endpoint chain: masquerade hairpin (a pod reaching itself), record affinity, dnat to ip:port
    nat-postrouting (srcnat) -> masquerading: only packets marked above
    filter-forward / filter-output / filter-input (filter - 10, after DNAT): services without endpoints
        are rejected (TCP reset, else ICMP port unreachable) instead of timing out; other ports of a
        ClusterIP are rejected and unallocated addresses of the service CIDR dropped, so traffic for the
        service range never leaves the node.

Network safety: every rule matches a ClusterIP (inside the service CIDR), a NodePort on the node's own
addresses, or the pod CIDR; nothing outside this table is touched.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from skiff_proxy.model import Backend, ServicePort

MASQUERADE_MARK = "0x4000"


@dataclass(frozen=True)
class Options:
    table: str = "skiff-proxy"
    cluster_cidr: str = ""  # pods' addresses; traffic from elsewhere to a ClusterIP is masqueraded
    service_cidr: str = ""  # unallocated addresses in it are dropped
    nodeport_addresses: tuple[str, ...] = ()  # the node's own addresses that serve NodePorts


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest())[:8].decode()


def service_chain(sp: ServicePort) -> str:
    return f"service-{_hash(sp.key)}-{sp.key}"


def external_chain(sp: ServicePort) -> str:
    return f"external-{_hash(sp.key)}-{sp.key}"


def endpoint_chain(sp: ServicePort, ep: Backend) -> str:
    return f"endpoint-{_hash(sp.key + ep.ip + str(ep.port))}-{sp.key}__{ep.ip}/{ep.port}"


def affinity_set(sp: ServicePort, ep: Backend) -> str:
    return f"affinity-{_hash(sp.key + ep.ip + str(ep.port))}"


def _elements(items: Sequence[str]) -> str:
    return f"    elements = {{ {', '.join(items)} }}\n" if items else ""


def _block(kind: str, name: str, body: Iterable[str]) -> str:
    lines = "".join(f"    {line}\n" for line in body)
    return f"  {kind} {name} {{\n{lines}  }}\n"


def render(ports: Sequence[ServicePort], opts: Options) -> str:
    """The whole `nft -f` transaction for `ports`."""
    t = opts.table
    with_endpoints = [sp for sp in ports if sp.endpoints]
    without = [sp for sp in ports if not sp.endpoints]
    service_ips = [f"{sp.cluster_ip} . {sp.protocol} . {sp.port} : goto {service_chain(sp)}" for sp in with_endpoints]
    nodeports = [f"{sp.protocol} . {sp.node_port} : goto {external_chain(sp)}" for sp in with_endpoints if sp.node_port]
    no_ep = [f"{sp.cluster_ip} . {sp.protocol} . {sp.port} : goto reject-chain" for sp in without]
    no_ep_nodeports = [f"{sp.protocol} . {sp.node_port} : goto reject-chain" for sp in without if sp.node_port]
    cluster_ips = sorted({sp.cluster_ip for sp in ports})

    out = [f"table ip {t}\n", f"delete table ip {t}\n", f"table ip {t} {{\n", '  comment "rules for skiff-proxy"\n']
    out.append(f"  set cluster-ips {{\n    type ipv4_addr\n{_elements(cluster_ips)}  }}\n")
    out.append(f"  set nodeport-ips {{\n    type ipv4_addr\n{_elements(sorted(opts.nodeport_addresses))}  }}\n")
    for name, key, items in (
        ("service-ips", "ipv4_addr . inet_proto . inet_service", service_ips),
        ("service-nodeports", "inet_proto . inet_service", nodeports),
        ("no-endpoint-services", "ipv4_addr . inet_proto . inet_service", no_ep),
        ("no-endpoint-nodeports", "inet_proto . inet_service", no_ep_nodeports),
    ):
        out.append(f"  map {name} {{\n    type {key} : verdict\n{_elements(items)}  }}\n")
    for sp in with_endpoints:
        if sp.affinity_seconds:
            for ep in sp.endpoints:
                out.append(
                    f"  set {affinity_set(sp, ep)} {{\n    type ipv4_addr\n    flags dynamic,timeout\n"
                    f"    timeout {sp.affinity_seconds}s\n  }}\n"
                )
    out += _base_chains(opts)
    for sp in with_endpoints:
        out += _service_chains(sp, opts)
    out.append("}\n")
    return "".join(out)


def _base_chains(opts: Options) -> list[str]:
    check = ["ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check"]
    cluster_check = ['ip daddr @cluster-ips reject comment "reject traffic to invalid ports of ClusterIPs"']
    if opts.service_cidr:
        cluster_check.append(f'ip daddr {opts.service_cidr} drop comment "drop traffic to unallocated ClusterIPs"')
    return [
        _block(
            "chain", "nat-prerouting", ["type nat hook prerouting priority dstnat; policy accept;", "jump services"]
        ),
        _block("chain", "nat-output", ["type nat hook output priority -100; policy accept;", "jump services"]),
        _block(
            "chain",
            "nat-postrouting",
            ["type nat hook postrouting priority srcnat; policy accept;", "jump masquerading"],
        ),
        _block("chain", "filter-forward", ["type filter hook forward priority filter - 10; policy accept;", *check]),
        _block("chain", "filter-output", ["type filter hook output priority filter - 10; policy accept;", *check]),
        _block(
            "chain",
            "filter-input",
            [
                "type filter hook input priority filter - 10; policy accept;",
                "ct state new jump nodeport-endpoints-check",
                "ct state new jump service-endpoints-check",
            ],
        ),
        _block("chain", "services", _services_rules(opts)),
        _block("chain", "service-endpoints-check", ["ip daddr . meta l4proto . th dport vmap @no-endpoint-services"]),
        _block(
            "chain",
            "nodeport-endpoints-check",
            ["ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"],
        ),
        _block("chain", "cluster-ips-check", cluster_check),
        _block("chain", "reject-chain", ["meta l4proto tcp reject with tcp reset", "reject"]),
        _block("chain", "mark-for-masquerade", [f"meta mark set meta mark | {MASQUERADE_MARK}"]),
        _block(
            "chain",
            "masquerading",
            [
                f"meta mark & {MASQUERADE_MARK} == 0 return",
                f"meta mark set meta mark ^ {MASQUERADE_MARK}",
                "masquerade fully-random",
            ],
        ),
    ]


def _services_rules(opts: Options) -> list[str]:
    rules = ["ip daddr . meta l4proto . th dport vmap @service-ips"]
    if opts.nodeport_addresses:
        rules.append("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports")
    return rules


def _service_chains(sp: ServicePort, opts: Options) -> list[str]:
    rules: list[str] = []
    if opts.cluster_cidr:
        rules.append(
            f"ip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port} ip saddr != {opts.cluster_cidr} "
            "jump mark-for-masquerade"
        )
    if sp.affinity_seconds:
        rules += [f"ip saddr @{affinity_set(sp, ep)} goto {endpoint_chain(sp, ep)}" for ep in sp.endpoints]
    targets = ", ".join(f"{i} : goto {endpoint_chain(sp, ep)}" for i, ep in enumerate(sp.endpoints))
    rules.append(f"numgen random mod {len(sp.endpoints)} vmap {{ {targets} }}")
    out = [_block("chain", service_chain(sp), rules)]
    if sp.node_port:
        out.append(_block("chain", external_chain(sp), ["jump mark-for-masquerade", f"goto {service_chain(sp)}"]))
    for ep in sp.endpoints:
        ep_rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity_seconds:
            ep_rules.append(f"update @{affinity_set(sp, ep)} {{ ip saddr }}")
        ep_rules.append(f"meta l4proto {sp.protocol} dnat to {ep.ip}:{ep.port}")
        out.append(_block("chain", endpoint_chain(sp, ep), ep_rules))
    return out


def cleanup(table: str) -> str:
    """Remove our table, whether or not it exists (declare, then delete, in one transaction)."""
    return f"table ip {table}\ndelete table ip {table}\n"
