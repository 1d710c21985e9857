"""The answer logic against the Kubernetes DNS specification, one table row per rule (no network)."""

from __future__ import annotations

import dns.flags
import dns.rcode
import dns.rdatatype
import pytest
from dns_helpers import Cluster, endpoints, records, service

Z = "cluster.local."


def cluster() -> Cluster:
    return Cluster().add(
        service("web", cluster_ip="10.96.0.20", ports=[("http", 80, "TCP"), ("dns", 53, "UDP"), ("", 8080, "TCP")]),
        endpoints("web", addresses=[("10.88.0.5", ""), ("10.88.0.6", "")], ports=[("http", 8080, "TCP")]),
        service("db", cluster_ip="None", ports=[("pg", 5432, "TCP")]),
        endpoints(
            "db",
            addresses=[("10.88.0.7", "db-0"), ("10.88.0.8", "")],
            not_ready=["10.88.0.9"],
            ports=[("pg", 5432, "TCP")],
        ),
        service("empty", cluster_ip="None", ports=[("pg", 5432, "TCP")]),
        service("v6", namespace="kube-system", cluster_ip="fd00:96::a"),
        service("ext", external_name="example.com"),
        service("alias", external_name=f"web.default.svc.{Z}"),
    )


ANSWERS = [
    # (name, type, rcode, answer records)
    ("web.default.svc.cluster.local", "A", "NOERROR", {(f"web.default.svc.{Z}", "A", "10.96.0.20")}),
    ("WEB.Default.SVC.cluster.local", "A", "NOERROR", {(f"WEB.Default.SVC.{Z}", "A", "10.96.0.20")}),
    ("web.default.svc.cluster.local", "AAAA", "NOERROR", set()),  # exists, no IPv6: NODATA
    ("web.default.svc.cluster.local", "TXT", "NOERROR", set()),
    ("nope.default.svc.cluster.local", "A", "NXDOMAIN", set()),
    ("web.other.svc.cluster.local", "A", "NXDOMAIN", set()),
    ("v6.kube-system.svc.cluster.local", "AAAA", "NOERROR", {(f"v6.kube-system.svc.{Z}", "AAAA", "fd00:96::a")}),
    ("v6.kube-system.svc.cluster.local", "A", "NOERROR", set()),
    # headless: every ready endpoint, never the not-ready one
    (
        "db.default.svc.cluster.local",
        "A",
        "NOERROR",
        {(f"db.default.svc.{Z}", "A", "10.88.0.7"), (f"db.default.svc.{Z}", "A", "10.88.0.8")},
    ),
    ("empty.default.svc.cluster.local", "A", "NOERROR", set()),
    ("db-0.db.default.svc.cluster.local", "A", "NOERROR", {(f"db-0.db.default.svc.{Z}", "A", "10.88.0.7")}),
    ("10-88-0-8.db.default.svc.cluster.local", "A", "NOERROR", {(f"10-88-0-8.db.default.svc.{Z}", "A", "10.88.0.8")}),
    ("10-88-0-9.db.default.svc.cluster.local", "A", "NXDOMAIN", set()),
    ("db-1.db.default.svc.cluster.local", "A", "NXDOMAIN", set()),
    ("db-0.web.default.svc.cluster.local", "A", "NXDOMAIN", set()),  # ClusterIP services have no endpoint names
    # SRV for named ports
    (
        "_http._tcp.web.default.svc.cluster.local",
        "SRV",
        "NOERROR",
        {(f"_http._tcp.web.default.svc.{Z}", "SRV", f"0 100 80 web.default.svc.{Z}")},
    ),
    (
        "_dns._udp.web.default.svc.cluster.local",
        "SRV",
        "NOERROR",
        {(f"_dns._udp.web.default.svc.{Z}", "SRV", f"0 100 53 web.default.svc.{Z}")},
    ),
    ("_http._udp.web.default.svc.cluster.local", "SRV", "NXDOMAIN", set()),
    ("_nope._tcp.web.default.svc.cluster.local", "SRV", "NXDOMAIN", set()),
    ("_http._tcp.web.default.svc.cluster.local", "A", "NOERROR", set()),
    (
        "_pg._tcp.db.default.svc.cluster.local",
        "SRV",
        "NOERROR",
        {
            (f"_pg._tcp.db.default.svc.{Z}", "SRV", f"0 50 5432 db-0.db.default.svc.{Z}"),
            (f"_pg._tcp.db.default.svc.{Z}", "SRV", f"0 50 5432 10-88-0-8.db.default.svc.{Z}"),
        },
    ),
    ("_pg._tcp.empty.default.svc.cluster.local", "SRV", "NOERROR", set()),
    ("_tcp.web.default.svc.cluster.local", "A", "NOERROR", set()),
    # ExternalName: a CNAME (in-zone targets followed)
    ("ext.default.svc.cluster.local", "CNAME", "NOERROR", {(f"ext.default.svc.{Z}", "CNAME", "example.com.")}),
    (
        "alias.default.svc.cluster.local",
        "A",
        "NOERROR",
        {
            (f"alias.default.svc.{Z}", "CNAME", f"web.default.svc.{Z}"),
            (f"web.default.svc.{Z}", "A", "10.96.0.20"),
        },
    ),
    # pods (insecure, as kubeadm's Corefile)
    ("10-88-0-5.default.pod.cluster.local", "A", "NOERROR", {(f"10-88-0-5.default.pod.{Z}", "A", "10.88.0.5")}),
    ("10-88-0-5.default.pod.cluster.local", "AAAA", "NOERROR", set()),
    ("fd00--5.default.pod.cluster.local", "AAAA", "NOERROR", {(f"fd00--5.default.pod.{Z}", "AAAA", "fd00::5")}),
    ("not-an-ip.default.pod.cluster.local", "A", "NXDOMAIN", set()),
    # the schema version, empty non-terminals, the apex
    ("dns-version.cluster.local", "TXT", "NOERROR", {(f"dns-version.{Z}", "TXT", '"1.1.0"')}),
    ("svc.cluster.local", "A", "NOERROR", set()),
    ("default.svc.cluster.local", "A", "NOERROR", set()),
    ("nons.svc.cluster.local", "A", "NXDOMAIN", set()),
    ("default.pod.cluster.local", "A", "NOERROR", set()),
    ("cluster.local", "A", "NOERROR", set()),
    ("what.cluster.local", "A", "NXDOMAIN", set()),
    ("a.b.c.web.default.svc.cluster.local", "A", "NXDOMAIN", set()),
    # PTR: ClusterIPs and headless endpoints
    ("20.0.96.10.in-addr.arpa", "PTR", "NOERROR", {("20.0.96.10.in-addr.arpa.", "PTR", f"web.default.svc.{Z}")}),
    ("7.0.88.10.in-addr.arpa", "PTR", "NOERROR", {("7.0.88.10.in-addr.arpa.", "PTR", f"db-0.db.default.svc.{Z}")}),
    ("8.0.88.10.in-addr.arpa", "PTR", "NOERROR", {("8.0.88.10.in-addr.arpa.", "PTR", f"10-88-0-8.db.default.svc.{Z}")}),
]


@pytest.mark.parametrize(("name", "rdtype", "rcode", "want"), ANSWERS, ids=[f"{r[0]}/{r[1]}" for r in ANSWERS])
def test_answers(name: str, rdtype: str, rcode: str, want: set[tuple[str, str, str]]) -> None:
    msg = cluster().ask(name, rdtype)
    assert dns.rcode.to_text(msg.rcode()) == rcode
    assert records(msg) == want
    if "arpa" not in name:
        assert msg.flags & dns.flags.AA
        for rrset in msg.answer:
            assert rrset.ttl == 5


@pytest.mark.parametrize(
    ("name", "rdtype"), [("nope.default.svc.cluster.local", "A"), ("web.default.svc.cluster.local", "AAAA")]
)
def test_negative_answers_carry_the_zone_soa_for_negative_caching(name: str, rdtype: str) -> None:
    msg = cluster().ask(name, rdtype)
    (soa,) = msg.authority
    assert soa.rdtype == dns.rdatatype.SOA and soa.name.to_text() == Z
    assert soa[0].minimum == 5


def test_srv_additionals_give_the_target_addresses() -> None:
    msg = cluster().ask("_pg._tcp.db.default.svc.cluster.local", "SRV")
    assert records(msg, "additional") >= {
        (f"db-0.db.default.svc.{Z}", "A", "10.88.0.7"),
        (f"10-88-0-8.db.default.svc.{Z}", "A", "10.88.0.8"),
    }


def test_srv_on_the_service_name_lists_every_named_port() -> None:
    msg = cluster().ask("web.default.svc.cluster.local", "SRV")
    assert records(msg) == {
        (f"web.default.svc.{Z}", "SRV", f"0 50 80 web.default.svc.{Z}"),
        (f"web.default.svc.{Z}", "SRV", f"0 50 53 web.default.svc.{Z}"),
    }


def test_unknown_reverse_names_and_other_zones_are_not_ours() -> None:
    c = cluster()
    assert c.resolver.resolve(dns.name.from_text("1.1.168.192.in-addr.arpa."), dns.rdatatype.PTR) is None
    assert c.resolver.resolve(dns.name.from_text("example.com."), dns.rdatatype.A) is None


def test_external_name_outside_the_zone_is_chased_upstream() -> None:
    answer = cluster().resolver.resolve(dns.name.from_text(f"ext.default.svc.{Z}"), dns.rdatatype.A)
    assert answer is not None and answer.chase == dns.name.from_text("example.com.")


def test_other_cluster_domain() -> None:
    c = Cluster(zone="skiff.test", ttl=30).add(service("web", cluster_ip="10.96.0.20"))
    msg = c.ask("web.default.svc.skiff.test")
    assert records(msg) == {("web.default.svc.skiff.test.", "A", "10.96.0.20")}
    assert msg.answer[0].ttl == 30
    assert c.resolver.resolve(dns.name.from_text(f"web.default.svc.{Z}"), dns.rdatatype.A) is None


def test_a_service_update_is_seen_by_the_next_query() -> None:
    c = cluster()
    c.add(endpoints("db", addresses=[("10.88.0.10", "")], ports=[("pg", 5432, "TCP")]))
    assert records(c.ask("db.default.svc.cluster.local")) == {(f"db.default.svc.{Z}", "A", "10.88.0.10")}
    c.remove("Endpoints", "default/db")
    assert records(c.ask("db.default.svc.cluster.local")) == set()
    c.remove("Service", "default/db")
    assert c.ask("db.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
