"""The nftables ruleset for a set of ServicePorts: a pure function from values to `nft -f` text.

The layout is kube-proxy's nftables mode, in one table of our own (``ip skiff-proxy``) that nothing else
writes and that we never leave half-built: every sync is one `nft -f` transaction, either ``full`` (declare
the table, delete it, declare it again with its whole content) or ``delta`` (rewrite only the chains and
map elements that changed), so the kernel switches from the old ruleset to the new one atomically
(established connections keep their NAT in conntrack, which neither touches).

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
import functools
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
    # When set, only traffic entering from this bridge (the pods') is proxied in prerouting/forward, so
    # several local clusters with overlapping service ranges on one machine keep to their own pods.
    pod_bridge: str = ""


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


@dataclass(frozen=True)
class Ruleset:
    """The table's content as values: declarations of sets/maps, their elements, and chains' rules.

    Base chains (hooked into the kernel) depend only on Options and are written by full transactions
    only; everything else can also be brought up to date by `delta`, which rewrites only what changed,
    still as one `nft -f` transaction (kube-proxy's nftables mode does the same), so that a sync costs
    in proportion to the change and ClientIP affinity sets survive it."""

    table: str
    base: tuple[tuple[str, tuple[str, ...]], ...]
    sets: dict[str, str]  # name -> declaration ("set x { type ...; }" without elements)
    elements: dict[str, frozenset[str]]  # set/map name -> elements
    chains: dict[str, tuple[str, ...]]  # regular chains -> rules

    def full(self) -> str:
        """Declare, delete and re-declare the whole table: the kernel swaps old for new atomically."""
        t = self.table
        out = [f"table ip {t}\n", f"delete table ip {t}\n", f"table ip {t} {{\n", '  comment "rules for skiff-proxy"\n']
        for name, decl in self.sets.items():
            items = sorted(self.elements.get(name, ()))
            body = decl.replace("{", "{\n   ", 1).rstrip("}").rstrip()
            elements = f"\n    elements = {{ {', '.join(items)} }}" if items else ""
            out.append(f"  {body}{elements}\n  }}\n")
        for name, rules in self.base:
            out.append(_block("chain", name, rules))
        for name, rules in self.chains.items():
            out.append(_block("chain", name, rules))
        out.append("}\n")
        return "".join(out)

    def delta(self, old: Ruleset) -> str | None:
        """One transaction taking the kernel from `old` to this ruleset; None when only a full one can."""
        if old.table != self.table or old.base != self.base:
            return None
        for name, decl in self.sets.items():
            if name in old.sets and old.sets[name] != decl:
                return None
        t = self.table
        out: list[str] = [
            f"add {decl.replace(' ', f' ip {t} ', 1)}\n" for n, decl in self.sets.items() if n not in old.sets
        ]
        out += [f"add chain ip {t} {n}\n" for n in self.chains if n not in old.chains]
        for name, rules in self.chains.items():
            before = old.chains.get(name)
            if before == rules:
                continue
            if before is not None:
                out.append(f"flush chain ip {t} {name}\n")
            out += [f"add rule ip {t} {name} {r}\n" for r in rules]
        for name in self.sets:
            have, want = old.elements.get(name, frozenset()), self.elements.get(name, frozenset())
            gone, added = sorted(have - want), sorted(want - have)
            if gone:
                keys = ", ".join(e.split(" : ")[0] for e in gone)
                out.append(f"delete element ip {t} {name} {{ {keys} }}\n")
            if added:
                out.append(f"add element ip {t} {name} {{ {', '.join(added)} }}\n")
        out += [f"delete chain ip {t} {n}\n" for n in old.chains if n not in self.chains]
        out += [f"delete {old.sets[n].split(' ', 1)[0]} ip {t} {n}\n" for n in old.sets if n not in self.sets]
        return "".join(out)


def _block(kind: str, name: str, body: Iterable[str]) -> str:
    lines = "".join(f"    {line}\n" for line in body)
    return f"  {kind} {name} {{\n{lines}  }}\n"


def build(ports: Sequence[ServicePort], opts: Options) -> Ruleset:
    with_endpoints = [sp for sp in ports if sp.endpoints]
    without = [sp for sp in ports if not sp.endpoints]
    elements = {
        "cluster-ips": frozenset(sp.cluster_ip for sp in ports),
        "nodeport-ips": frozenset(opts.nodeport_addresses),
        "service-ips": frozenset(
            f"{sp.cluster_ip} . {sp.protocol} . {sp.port} : goto {service_chain(sp)}" for sp in with_endpoints
        ),
        "service-nodeports": frozenset(
            f"{sp.protocol} . {sp.node_port} : goto {external_chain(sp)}" for sp in with_endpoints if sp.node_port
        ),
        "no-endpoint-services": frozenset(
            f"{sp.cluster_ip} . {sp.protocol} . {sp.port} : goto reject-chain" for sp in without
        ),
        "no-endpoint-nodeports": frozenset(
            f"{sp.protocol} . {sp.node_port} : goto reject-chain" for sp in without if sp.node_port
        ),
    }
    sets = {
        "cluster-ips": "set cluster-ips { type ipv4_addr; }",
        "nodeport-ips": "set nodeport-ips { type ipv4_addr; }",
        "service-ips": "map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; }",
        "service-nodeports": "map service-nodeports { type inet_proto . inet_service : verdict; }",
        "no-endpoint-services": "map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; }",
        "no-endpoint-nodeports": "map no-endpoint-nodeports { type inet_proto . inet_service : verdict; }",
    }
    chains: dict[str, tuple[str, ...]] = dict(_static_chains(opts))
    for sp in with_endpoints:
        chain_map, affinity = _service_chains(sp, opts)
        chains.update(chain_map)
        sets.update(affinity)
    return Ruleset(opts.table, _base_chains(opts), sets, elements, chains)


def render(ports: Sequence[ServicePort], opts: Options) -> str:
    """The whole `nft -f` transaction for `ports` (a full rebuild)."""
    return build(ports, opts).full()


def _base_chains(opts: Options) -> tuple[tuple[str, tuple[str, ...]], ...]:
    iif = f'iifname "{opts.pod_bridge}" ' if opts.pod_bridge else ""
    check = ("ct state new jump service-endpoints-check", "ct state new jump cluster-ips-check")
    return (
        ("nat-prerouting", ("type nat hook prerouting priority dstnat; policy accept;", f"{iif}jump services")),
        ("nat-output", ("type nat hook output priority -100; policy accept;", "jump services")),
        ("nat-postrouting", ("type nat hook postrouting priority srcnat; policy accept;", "jump masquerading")),
        (
            "filter-forward",
            ("type filter hook forward priority filter - 10; policy accept;", *(iif + c for c in check)),
        ),
        ("filter-output", ("type filter hook output priority filter - 10; policy accept;", *check)),
        (
            "filter-input",
            (
                "type filter hook input priority filter - 10; policy accept;",
                "ct state new jump nodeport-endpoints-check",
                "ct state new jump service-endpoints-check",
            ),
        ),
    )


def _static_chains(opts: Options) -> list[tuple[str, tuple[str, ...]]]:
    services = ["ip daddr . meta l4proto . th dport vmap @service-ips"]
    if opts.nodeport_addresses:
        services.append("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports")
    cluster_check = ['ip daddr @cluster-ips reject comment "reject traffic to invalid ports of ClusterIPs"']
    if opts.service_cidr:
        cluster_check.append(f'ip daddr {opts.service_cidr} drop comment "drop traffic to unallocated ClusterIPs"')
    return [
        ("services", tuple(services)),
        ("service-endpoints-check", ("ip daddr . meta l4proto . th dport vmap @no-endpoint-services",)),
        ("nodeport-endpoints-check", ("ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",)),
        ("cluster-ips-check", tuple(cluster_check)),
        ("reject-chain", ("meta l4proto tcp reject with tcp reset", "reject")),
        ("mark-for-masquerade", (f"meta mark set meta mark | {MASQUERADE_MARK}",)),
        (
            "masquerading",
            (
                f"meta mark & {MASQUERADE_MARK} == 0 return",
                f"meta mark set meta mark ^ {MASQUERADE_MARK}",
                "masquerade fully-random",
            ),
        ),
    ]


@functools.lru_cache(maxsize=65536)
def _service_chains(sp: ServicePort, opts: Options) -> tuple[dict[str, tuple[str, ...]], dict[str, str]]:
    """The chains (and affinity sets) of one ServicePort; cached, since a sync re-renders every
    Service and almost all are unchanged."""
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
    chains = {service_chain(sp): tuple(rules)}
    if sp.node_port:
        chains[external_chain(sp)] = ("jump mark-for-masquerade", f"goto {service_chain(sp)}")
    sets: dict[str, str] = {}
    for ep in sp.endpoints:
        ep_rules = [f"ip saddr {ep.ip} jump mark-for-masquerade"]
        if sp.affinity_seconds:
            name = affinity_set(sp, ep)
            sets[name] = f"set {name} {{ type ipv4_addr; flags dynamic,timeout; timeout {sp.affinity_seconds}s; }}"
            ep_rules.append(f"update @{name} {{ ip saddr }}")
        ep_rules.append(f"meta l4proto {sp.protocol} dnat to {ep.ip}:{ep.port}")
        chains[endpoint_chain(sp, ep)] = tuple(ep_rules)
    return chains, sets


def cleanup(table: str) -> str:
    """Remove our table, whether or not it exists (declare, then delete, in one transaction)."""
    return f"table ip {table}\ndelete table ip {table}\n"
