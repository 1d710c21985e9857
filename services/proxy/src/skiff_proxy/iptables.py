"""The iptables mode: the same ServicePorts as iptables-restore input (kube-proxy's iptables layout).

Every sync is one `iptables-restore --noflush` per table: the chains we name are declared (which empties
them) and refilled in one commit, every other rule on the host stays untouched. Chains that are no
longer needed are emptied and deleted in the same commit. Our chains are hooked into the built-in ones
by a single jump each (PREROUTING/OUTPUT -> SERVICES, POSTROUTING -> POSTROUTING, FORWARD/INPUT/OUTPUT
-> FILTER), added once and checked on every sync.

    nat   SERVICES:  -d clusterIP -p proto --dport port -j SVC-x;  -d nodeIP -j NODEPORTS
          SVC-x:     masquerade from outside the pod CIDR; ClientIP affinity (-m recent); one rule per
                     endpoint with -m statistic --probability 1/(n-i), the last without (equal odds)
          SEP-y:     hairpin masquerade, record affinity, DNAT to ip:port
    filter FILTER:   REJECT (tcp-reset / port-unreachable) for Services without endpoints
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from skiff_proxy.model import Backend, ServicePort
from skiff_proxy.nftables import MASQUERADE_MARK, Options


def _hash(text: str) -> str:
    return base64.b32encode(hashlib.sha256(text.encode()).digest())[:8].decode()


def chain_prefix(table: str) -> str:
    """SKIFF- for the default table name, else a short per-table prefix (chain names max 28 chars)."""
    return "SKIFF-" if table == "skiff-proxy" else f"SK{_hash(table)[:4]}-"


def jumps(opts: Options) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule spec) of the jumps into our chains."""
    p = chain_prefix(opts.table)
    iif = ["-i", opts.pod_bridge] if opts.pod_bridge else []
    new = ["-m", "conntrack", "--ctstate", "NEW"]
    return [
        ("nat", "PREROUTING", [*iif, "-j", f"{p}SERVICES"]),
        ("nat", "OUTPUT", ["-j", f"{p}SERVICES"]),
        ("nat", "POSTROUTING", ["-j", f"{p}POSTROUTING"]),
        ("filter", "FORWARD", [*iif, *new, "-j", f"{p}FILTER"]),
        ("filter", "INPUT", [*new, "-j", f"{p}FILTER"]),
        ("filter", "OUTPUT", [*new, "-j", f"{p}FILTER"]),
    ]


@dataclass(frozen=True)
class IptablesRuleset:
    nat: dict[str, tuple[str, ...]]  # chain -> rules (without "-A chain")
    filter: dict[str, tuple[str, ...]]

    def _text(
        self,
        drop_nat: Sequence[str] = (),
        drop_filter: Sequence[str] = (),
        nat: dict[str, tuple[str, ...]] | None = None,
        filter_: dict[str, tuple[str, ...]] | None = None,
    ) -> str:
        out = []
        tables = (
            ("nat", self.nat if nat is None else nat, drop_nat),
            ("filter", self.filter if filter_ is None else filter_, drop_filter),
        )
        for table, chains, drop in tables:
            out.append(f"*{table}\n")
            out += [f":{c} - [0:0]\n" for c in [*chains, *drop]]
            for c, rules in chains.items():
                out += [f"-A {c} {r}\n" for r in rules]
            out += [f"-X {c}\n" for c in drop]
            out.append("COMMIT\n")
        return "".join(out)

    def full(self) -> str:
        return self._text()

    def delta(self, old: IptablesRuleset) -> str | None:
        """Only the chains whose rules changed, plus deletion of stale ones, in one commit (kube-proxy's
        MinimizeIPTablesRestore): with --noflush a chain the input does not name is left as it is, and
        a chain that starts or stops jumping to another always changes itself, so what the commit leaves
        is exactly the desired ruleset. Rewriting every chain on each change made a sync cost as much as
        a full one (seconds at 1,000 Services on the nf_tables backend, see docs/benchmarks.md)."""
        nat = {c: r for c, r in self.nat.items() if old.nat.get(c) != r}
        filter_ = {c: r for c, r in self.filter.items() if old.filter.get(c) != r}
        return self._text(
            [c for c in old.nat if c not in self.nat], [c for c in old.filter if c not in self.filter], nat, filter_
        )


@dataclass(frozen=True)
class _PortRules:
    """What one ServicePort contributes: lines of the shared chains and chains of its own."""

    services: tuple[str, ...] = ()
    nodeports: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()
    chains: tuple[tuple[str, tuple[str, ...]], ...] = ()


def build(ports: Sequence[ServicePort], opts: Options) -> IptablesRuleset:
    p = chain_prefix(opts.table)
    mark = MASQUERADE_MARK
    nat: dict[str, tuple[str, ...]] = {
        f"{p}MARK-MASQ": (f"-j MARK --or-mark {mark}",),
        f"{p}POSTROUTING": (
            f"-m mark ! --mark {mark}/{mark} -j RETURN",
            f"-j MARK --xor-mark {mark}",
            "-j MASQUERADE --random-fully",
        ),
    }
    services: list[str] = []
    nodeports: list[str] = []
    reject: list[str] = []
    for sp in ports:
        part = _port_rules(sp, opts)
        services += part.services
        nodeports += part.nodeports
        reject += part.reject
        nat.update(part.chains)
    if opts.nodeport_addresses and nodeports:
        services += [f"-d {a}/32 -j {p}NODEPORTS" for a in opts.nodeport_addresses]
        nat[f"{p}NODEPORTS"] = tuple(nodeports)
    nat[f"{p}SERVICES"] = tuple(services)
    if opts.service_cidr:  # nothing for the service range may leave the node
        reject.append(f"-d {opts.service_cidr} -j REJECT")
    return IptablesRuleset(nat=nat, filter={f"{p}FILTER": tuple(reject)})


# A ServicePort is an immutable value, so its rules are too: between two syncs only the Services that
# changed are rendered again (the role the ModelCache plays one step earlier), and an unchanged chain is
# the very same tuple, which keeps the delta's comparison cheap. At 1,000 Services x 10 endpoints this
# took a sync's rendering from ~0.7 s to a few ms.
@functools.lru_cache(maxsize=1 << 15)
def _port_rules(sp: ServicePort, opts: Options) -> _PortRules:
    p = chain_prefix(opts.table)
    match = f"-p {sp.protocol} -m {sp.protocol} --dport {sp.port}"
    if not sp.endpoints:
        how = "tcp-reset" if sp.protocol == "tcp" else "icmp-port-unreachable"
        reject = [f"-d {sp.cluster_ip}/32 {match} -j REJECT --reject-with {how}"]
        for a in opts.nodeport_addresses if sp.node_port else ():
            reject.append(f"-d {a}/32 -p {sp.protocol} -m {sp.protocol} --dport {sp.node_port} -j REJECT")
        return _PortRules(reject=tuple(reject))
    svc = f"{p}SVC-{_hash(sp.key)}"
    chains: list[tuple[str, tuple[str, ...]]] = []
    nodeports: tuple[str, ...] = ()
    if sp.node_port:
        ext = f"{p}EXT-{_hash(sp.key)}"
        nodeports = (f"-p {sp.protocol} -m {sp.protocol} --dport {sp.node_port} -j {ext}",)
        chains.append((ext, (f"-j {p}MARK-MASQ", f"-j {svc}")))
    chains.append((svc, _service_rules(sp, opts, p, svc, match)))
    chains += [(_sep(p, sp, ep), _endpoint_rules(sp, ep, p)) for ep in sp.endpoints]
    return _PortRules(services=(f"-d {sp.cluster_ip}/32 {match} -j {svc}",), nodeports=nodeports, chains=tuple(chains))


def _sep(p: str, sp: ServicePort, ep: Backend) -> str:
    return f"{p}SEP-{_hash(sp.key + ep.ip + str(ep.port))}"


def _service_rules(sp: ServicePort, opts: Options, p: str, svc: str, match: str) -> tuple[str, ...]:
    rules = []
    if opts.cluster_cidr:
        rules.append(f"! -s {opts.cluster_cidr} -d {sp.cluster_ip}/32 {match} -j {p}MARK-MASQ")
    if sp.affinity_seconds:
        for ep in sp.endpoints:
            sep = _sep(p, sp, ep)
            rules.append(f"-m recent --name {sep} --rcheck --seconds {sp.affinity_seconds} --reap -j {sep}")
    n = len(sp.endpoints)
    for i, ep in enumerate(sp.endpoints):
        odds = "" if i == n - 1 else f"-m statistic --mode random --probability {1 / (n - i):.10f} "
        rules.append(f"{odds}-j {_sep(p, sp, ep)}")
    return tuple(rules)


def _endpoint_rules(sp: ServicePort, ep: Backend, p: str) -> tuple[str, ...]:
    rules = [f"-s {ep.ip}/32 -j {p}MARK-MASQ"]
    if sp.affinity_seconds:
        rules.append(f"-m recent --name {_sep(p, sp, ep)} --set")
    rules.append(f"-p {sp.protocol} -m {sp.protocol} -j DNAT --to-destination {ep.ip}:{ep.port}")
    return tuple(rules)
