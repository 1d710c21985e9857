"""The message layer: sizes and truncation, EDNS0, malformed input, readiness."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
from dns_helpers import Cluster, endpoints, records, service
from skiff_dns.answer import Resolver
from skiff_dns.forward import Forwarder
from skiff_dns.handler import QueryHandler


def big_headless(n: int = 60) -> Cluster:
    return Cluster().add(
        service("big", cluster_ip="None"),
        endpoints("big", addresses=[(f"10.88.1.{i}", "") for i in range(1, n + 1)]),
    )


def test_udp_answer_too_big_for_512_bytes_is_truncated() -> None:
    msg = big_headless().ask("big.default.svc.cluster.local")
    assert msg.flags & dns.flags.TC
    assert msg.answer == [] and msg.rcode() == dns.rcode.NOERROR


def test_edns0_buffer_lets_the_whole_answer_through_udp() -> None:
    msg = big_headless().ask("big.default.svc.cluster.local", payload=4096)
    assert not msg.flags & dns.flags.TC
    assert len(records(msg)) == 60
    assert msg.edns == 0 and msg.payload == 1232


def test_tcp_carries_the_whole_answer() -> None:
    msg = big_headless(200).ask("big.default.svc.cluster.local", proto="tcp")
    assert not msg.flags & dns.flags.TC
    assert len(records(msg)) == 200


def test_small_answers_are_not_truncated() -> None:
    msg = big_headless(3).ask("big.default.svc.cluster.local")
    assert not msg.flags & dns.flags.TC and len(records(msg)) == 3


def test_garbage_is_dropped_and_a_broken_body_gets_formerr() -> None:
    handler = Cluster().handler
    assert handler.handle(b"\x01\x02", "udp", "1") is None
    query = dns.message.make_query("web.default.svc.cluster.local", "A").to_wire()
    out = handler.handle(query[:-3], "udp", "1")
    assert isinstance(out, bytes)
    reply = dns.message.from_wire(out)
    assert reply.rcode() == dns.rcode.FORMERR and reply.id == int.from_bytes(query[:2], "big")


def test_responses_sent_to_us_are_never_answered() -> None:
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    response = dns.message.make_response(query)
    assert Cluster().handler.handle(response.to_wire(), "udp", "1") is None


def test_other_opcodes_are_not_implemented() -> None:
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    query.set_opcode(dns.opcode.NOTIFY)
    out = Cluster().handler.handle(query.to_wire(), "udp", "1")
    assert isinstance(out, bytes) and dns.message.from_wire(out).rcode() == dns.rcode.NOTIMP


def test_before_the_caches_sync_cluster_names_get_servfail_not_nxdomain() -> None:
    c = Cluster()
    handler = QueryHandler(c.resolver, Forwarder([]), "dns://127.0.0.1:53", ready=lambda: False)
    out = handler.handle(dns.message.make_query("web.default.svc.cluster.local", "A").to_wire(), "udp", "1")
    assert isinstance(out, bytes) and dns.message.from_wire(out).rcode() == dns.rcode.SERVFAIL


def test_the_answer_echoes_the_question_and_id() -> None:
    c = Cluster().add(service("web", cluster_ip="10.96.0.20"))
    query = dns.message.make_query("web.default.svc.cluster.local", "A")
    out = c.handler.handle(query.to_wire(), "udp", "1")
    assert isinstance(out, bytes)
    reply = dns.message.from_wire(out)
    assert reply.id == query.id and reply.question == query.question
    assert isinstance(c.resolver, Resolver)


def test_a_repeated_query_is_answered_from_the_cache_with_its_own_id() -> None:
    c = Cluster().add(service("web", cluster_ip="10.96.0.20"))
    first = dns.message.make_query("web.default.svc.cluster.local", "A")
    c.handler.handle(first.to_wire(), "udp", "1")
    assert len(c.handler.cache) == 1
    again = dns.message.make_query("web.default.svc.cluster.local", "A")
    out = c.handler.handle(again.to_wire(), "udp", "1")
    assert isinstance(out, bytes)
    reply = dns.message.from_wire(out)
    assert reply.id == again.id and records(reply) == {("web.default.svc.cluster.local.", "A", "10.96.0.20")}


def test_udp_and_tcp_answers_are_cached_apart() -> None:
    c = big_headless()
    wire = dns.message.make_query("big.default.svc.cluster.local", "A").to_wire()
    for _ in range(2):
        udp, tcp = c.handler.handle(wire, "udp", "1"), c.handler.handle(wire, "tcp", "1")
        assert isinstance(udp, bytes) and isinstance(tcp, bytes)
        assert dns.message.from_wire(udp).flags & dns.flags.TC
        assert len(records(dns.message.from_wire(tcp))) == 60


def test_a_change_empties_the_cache() -> None:
    c = Cluster().add(service("web", cluster_ip="10.96.0.20"))
    c.ask("web.default.svc.cluster.local")
    c.remove("Service", "default/web")
    assert c.ask("web.default.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN


def test_cache_off_answers_every_query_afresh() -> None:
    c = Cluster().add(service("web", cluster_ip="10.96.0.20"))
    handler = QueryHandler(c.resolver, Forwarder([]), "dns://127.0.0.1:53", cache_entries=0)
    for _ in range(2):
        out = handler.handle(dns.message.make_query("web.default.svc.cluster.local", "A").to_wire(), "udp", "1")
        assert isinstance(out, bytes) and records(dns.message.from_wire(out))
    assert len(handler.cache) == 0
