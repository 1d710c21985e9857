"""The answer logic: one query (name, type) in the cluster domain -> records, as the Kubernetes DNS
specification (https://github.com/kubernetes/dns/blob/master/docs/specification.md) and CoreDNS's
kubernetes plugin define them. Pure: it reads a ``ClusterView`` and does no I/O, so it is tested with
dnspython messages alone.

Names inside ``<zone>`` (labels read right to left)::

    (apex)                                   SOA
    dns-version                              TXT "1.1.0"
    svc | pod                                exist, no records of their own (NODATA)
    <ns>.svc                                 exists while the namespace holds a Service
    <svc>.<ns>.svc                           A/AAAA ClusterIP(s), or every ready endpoint if headless;
                                             CNAME for ExternalName; SRV for every named port
    <host>.<svc>.<ns>.svc                    A/AAAA of the headless endpoint with that hostname (or the
                                             dashed IP, for endpoints without one)
    _<port>._<proto>.<svc>.<ns>.svc          SRV (one per ready endpoint if headless) + A/AAAA additionals
    <a-b-c-d>.<ns>.pod                       A (pods insecure: the IP written in the name)

A name that exists with no record of the asked type is NOERROR with an empty answer (NODATA); a name
that does not exist is NXDOMAIN. Both carry the zone's SOA in the authority section so clients cache
the negative answer for one TTL. Reverse names (``in-addr.arpa``/``ip6.arpa``) are answered for
ClusterIPs and headless endpoint IPs; any other reverse name falls through to the upstream resolvers,
as CoreDNS's ``fallthrough`` does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.PTR
import dns.rdtypes.ANY.SOA
import dns.rdtypes.ANY.TXT
import dns.rdtypes.IN.A
import dns.rdtypes.IN.AAAA
import dns.rdtypes.IN.SRV
import dns.reversename
import dns.rrset
from skiff.api.core.v1 import service_pb2

from skiff_dns.source import Address, EndpointGroup
from skiff_dns.view import ClusterView, cluster_ips, is_headless

IN = dns.rdataclass.IN
A, AAAA, SRV, PTR, CNAME, TXT, SOA, ANY = (
    dns.rdatatype.A,
    dns.rdatatype.AAAA,
    dns.rdatatype.SRV,
    dns.rdatatype.PTR,
    dns.rdatatype.CNAME,
    dns.rdatatype.TXT,
    dns.rdatatype.SOA,
    dns.rdatatype.ANY,
)
SCHEMA_VERSION = "1.1.0"
PROTOCOLS = {"_tcp": "TCP", "_udp": "UDP", "_sctp": "SCTP"}
REVERSE_ZONES = (dns.name.from_text("in-addr.arpa."), dns.name.from_text("ip6.arpa."))


@dataclass
class Answer:
    """What the server puts in the response; ``chase`` is an out-of-zone CNAME target the server still
    has to resolve upstream (ExternalName Services)."""

    rcode: dns.rcode.Rcode = dns.rcode.NOERROR
    answer: list[dns.rrset.RRset] = field(default_factory=list)
    authority: list[dns.rrset.RRset] = field(default_factory=list)
    additional: list[dns.rrset.RRset] = field(default_factory=list)
    chase: dns.name.Name | None = None


class _NoSuchName(Exception):
    pass


def dashed(ip: str) -> str:
    """10.1.2.3 -> 10-1-2-3, fd00::1 -> fd00--1: an IP as one DNS label."""
    return ip.replace(".", "-").replace(":", "-")


def undashed(label: str) -> str | None:
    """Inverse of ``dashed``; None when the label is not an IP."""
    for candidate in (label.replace("-", "."), label.replace("-", ":")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


def _rd(cls: type[dns.rdata.Rdata], rdtype: dns.rdatatype.RdataType, *fields: Any) -> dns.rdata.Rdata:
    """One IN-class rdata; the single place the untyped dnspython constructors are called."""
    return cls(IN, rdtype, *fields)


def _family_type(ip: str) -> dns.rdatatype.RdataType:
    return AAAA if ":" in ip else A


class Resolver:
    def __init__(
        self, view: ClusterView, zone: str, ttl: int, pods: Literal["insecure", "disabled"] = "insecure"
    ) -> None:
        self.view = view
        self.zone = dns.name.from_text(zone.strip(".") + ".")
        self.ttl = ttl
        self.pods = pods
        self._soa = self._make_soa()

    # -- entry point -------------------------------------------------------------------------------
    def resolve(self, qname: dns.name.Name, qtype: int) -> Answer | None:
        """The answer for an in-zone (or known reverse) name; None when the name is not ours to answer."""
        if qname.is_subdomain(self.zone):
            labels = [label.decode("ascii", "replace").lower() for label in qname.relativize(self.zone).labels]
            if labels == ["@"]:
                labels = []
            out = Answer()
            try:
                self._zone_records(qname, labels[::-1], qtype, out)
            except _NoSuchName:
                out = Answer(rcode=dns.rcode.NXDOMAIN)
            if not out.answer or out.rcode == dns.rcode.NXDOMAIN:
                out.authority.append(self._soa)
            return out
        if qtype in (PTR, ANY) and any(qname.is_subdomain(z) for z in REVERSE_ZONES):
            return self._reverse(qname)
        return None

    @property
    def zone_label(self) -> str:
        return self.zone.to_text()

    # -- forward names -----------------------------------------------------------------------------
    def _zone_records(self, qname: dns.name.Name, labels: list[str], qtype: int, out: Answer) -> None:
        if not labels:
            if qtype in (SOA, ANY):
                out.answer.append(self._soa)
            return
        top = labels[0]
        if top == "dns-version" and len(labels) == 1:
            if qtype in (TXT, ANY):
                out.answer.append(self._rrset(qname, TXT, [_rd(dns.rdtypes.ANY.TXT.TXT, TXT, [SCHEMA_VERSION])]))
            return
        if top == "svc":
            self._svc_records(qname, labels[1:], qtype, out)
            return
        if top == "pod":
            self._pod_records(qname, labels[1:], qtype, out)
            return
        raise _NoSuchName

    def _svc_records(self, qname: dns.name.Name, labels: list[str], qtype: int, out: Answer) -> None:
        if not labels:
            return  # svc.<zone>: an empty non-terminal
        namespace = labels[0]
        if len(labels) == 1:
            if not self.view.namespace_exists(namespace):
                raise _NoSuchName
            return
        svc = self.view.service(namespace, labels[1])
        if svc is None:
            raise _NoSuchName
        rest = labels[2:]
        if not rest:
            self._service_records(qname, svc, qtype, out)
        elif len(rest) == 1 and rest[0].startswith("_"):
            # _<proto>.<svc>...: exists (empty) when the Service has a port of that protocol
            if not any(p.protocol == PROTOCOLS.get(rest[0]) for p in self._ports(svc)):
                raise _NoSuchName
        elif len(rest) == 1:
            self._endpoint_records(qname, svc, rest[0], qtype, out)
        elif len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            self._named_port_records(qname, svc, rest[1], rest[0], qtype, out)
        else:
            raise _NoSuchName

    def _service_records(self, qname: dns.name.Name, svc: service_pb2.Service, qtype: int, out: Answer) -> None:
        if svc.spec.type == "ExternalName":
            target = dns.name.from_text(svc.spec.external_name.strip(".") + ".")
            out.answer.append(self._rrset(qname, CNAME, [_rd(dns.rdtypes.ANY.CNAME.CNAME, CNAME, target)]))
            if qtype != CNAME:
                self._follow(target, qtype, out)
            return
        if qtype in (A, AAAA, ANY):
            ips = self._headless_ips(svc) if is_headless(svc) else cluster_ips(svc)
            self._address_records(qname, ips, qtype, out.answer)
        if qtype in (SRV, ANY):
            targets = []
            for port in self._ports(svc):
                if port.name:
                    targets.extend(self._srv_targets(qname, svc, port.name, port.protocol))
            self._srv_answer(qname, targets, out)

    def _endpoint_records(
        self, qname: dns.name.Name, svc: service_pb2.Service, host: str, qtype: int, out: Answer
    ) -> None:
        if not is_headless(svc):
            raise _NoSuchName
        ips = [a.ip for g in self._groups(svc) for a in g.addresses if self._endpoint_label(a) == host]
        if not ips:
            raise _NoSuchName
        if qtype in (A, AAAA, ANY):
            self._address_records(qname, ips, qtype, out.answer)

    def _named_port_records(
        self, qname: dns.name.Name, svc: service_pb2.Service, port_label: str, proto_label: str, qtype: int, out: Answer
    ) -> None:
        """``_<port>._<proto>.<svc>``: exists when the Service has that named port (NODATA while a headless
        Service has no ready endpoint for it), else NXDOMAIN."""
        name, protocol = port_label[1:], PROTOCOLS.get(proto_label)
        if not any(p.name == name and p.protocol == protocol for p in self._ports(svc)):
            raise _NoSuchName
        if qtype in (SRV, ANY):
            self._srv_answer(qname, self._srv_targets(qname.parent().parent(), svc, name, protocol or ""), out)

    def _srv_targets(
        self, service_name: dns.name.Name, svc: service_pb2.Service, port_name: str, protocol: str
    ) -> list[tuple[dns.name.Name, int, list[str]]]:
        """(target, port, target's IPs) for a named port: the Service itself (ClusterIP) or every ready
        endpoint (headless), each endpoint named by its hostname or dashed IP."""
        targets: list[tuple[dns.name.Name, int, list[str]]] = []
        if is_headless(svc):
            for group in self._groups(svc):
                for port in group.ports:
                    if port.name == port_name and port.protocol == protocol:
                        for a in group.addresses:
                            target = dns.name.Name((self._endpoint_label(a).encode(), *service_name.labels))
                            targets.append((target, port.port, [a.ip]))
        else:
            for sp in self._ports(svc):
                if sp.name == port_name and sp.protocol == protocol:
                    targets.append((service_name, sp.port, cluster_ips(svc)))
        return targets

    def _srv_answer(
        self, owner: dns.name.Name, targets: list[tuple[dns.name.Name, int, list[str]]], out: Answer
    ) -> None:
        if not targets:
            return
        weight = max(1, 100 // len(targets))
        rdatas = [_rd(dns.rdtypes.IN.SRV.SRV, SRV, 0, weight, port, target) for target, port, _ in targets]
        out.answer.append(self._rrset(owner, SRV, rdatas))
        done: set[dns.name.Name] = set()
        for target, _, ips in targets:
            if target not in done:
                done.add(target)
                self._address_records(target, ips, ANY, out.additional)

    # -- pods --------------------------------------------------------------------------------------
    def _pod_records(self, qname: dns.name.Name, labels: list[str], qtype: int, out: Answer) -> None:
        if self.pods == "disabled" or len(labels) not in (1, 2):
            raise _NoSuchName
        if len(labels) == 1:
            return  # <ns>.pod.<zone>: an empty non-terminal
        ip = undashed(labels[1])
        if ip is None:
            raise _NoSuchName
        if qtype in (A, AAAA, ANY):
            self._address_records(qname, [ip], qtype, out.answer)

    # -- reverse -----------------------------------------------------------------------------------
    def _reverse(self, qname: dns.name.Name) -> Answer | None:
        try:
            ip = str(ipaddress.ip_address(dns.reversename.to_address(qname)))
        except (dns.exception.SyntaxError, ValueError):
            return None
        targets = [
            self._service_name(svc.metadata.namespace, svc.metadata.name)
            for svc in self.view.services_by_cluster_ip(ip)
        ]
        for ns, name, addr in self.view.endpoints_by_ip(ip):
            service_name = self._service_name(ns, name)
            targets.append(dns.name.Name((self._endpoint_label(addr).encode(), *service_name.labels)))
        if not targets:
            return None
        rdatas = [_rd(dns.rdtypes.ANY.PTR.PTR, PTR, t) for t in targets]
        return Answer(answer=[self._rrset(qname, PTR, rdatas)])

    # -- helpers -----------------------------------------------------------------------------------
    def _follow(self, target: dns.name.Name, qtype: int, out: Answer) -> None:
        """Resolve a CNAME target: in-zone at once (one level, like CoreDNS), else leave it to the server."""
        if target.is_subdomain(self.zone):
            inner = self.resolve(target, qtype)
            if inner is not None:
                out.answer.extend(inner.answer)
                out.additional.extend(inner.additional)
        else:
            out.chase = target

    def _groups(self, svc: service_pb2.Service) -> list[EndpointGroup]:
        return list(self.view.endpoint_groups(svc.metadata.namespace, svc.metadata.name))

    def _headless_ips(self, svc: service_pb2.Service) -> list[str]:
        seen: dict[str, None] = {}
        for group in self._groups(svc):
            for a in group.addresses:
                seen[a.ip] = None
        return list(seen)

    def _ports(self, svc: service_pb2.Service) -> list[service_pb2.ServicePort]:
        return [
            p if p.protocol else service_pb2.ServicePort(name=p.name, port=p.port, protocol="TCP")
            for p in svc.spec.ports
        ]

    @staticmethod
    def _endpoint_label(a: Address) -> str:
        return a.hostname.lower() if a.hostname else dashed(a.ip)

    def _service_name(self, namespace: str, name: str) -> dns.name.Name:
        return dns.name.Name((name.encode(), namespace.encode(), b"svc", *self.zone.labels))

    def _address_records(self, owner: dns.name.Name, ips: list[str], qtype: int, into: list[dns.rrset.RRset]) -> None:
        for rdtype, cls in ((A, dns.rdtypes.IN.A.A), (AAAA, dns.rdtypes.IN.AAAA.AAAA)):
            if qtype not in (rdtype, ANY):
                continue
            rdatas = [_rd(cls, rdtype, ip) for ip in ips if _family_type(ip) == rdtype]
            if rdatas:
                into.append(self._rrset(owner, rdtype, rdatas))

    def _rrset(
        self,
        owner: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        rdatas: Sequence[dns.rdata.Rdata],
    ) -> dns.rrset.RRset:
        rrset = dns.rrset.RRset(owner, IN, rdtype)
        for rd in rdatas:
            rrset.add(rd, self.ttl)
        return rrset

    def _make_soa(self) -> dns.rrset.RRset:
        soa = _rd(
            dns.rdtypes.ANY.SOA.SOA,
            SOA,
            dns.name.Name((b"ns", b"dns", *self.zone.labels)),
            dns.name.Name((b"hostmaster", *self.zone.labels)),
            1,
            7200,
            1800,
            86400,
            self.ttl,
        )
        return self._rrset(self.zone, SOA, [soa])
