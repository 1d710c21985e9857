"""One DNS message in, one out: parse, answer from the cluster or forward, size for the transport.

In-zone answers are computed synchronously (no task, no await: one parse, one dictionary lookup, one
render) and their wire form is cached until the cluster changes (cache.py), so a repeated query costs a
dictionary lookup; only forwarded names and out-of-zone CNAME targets need a coroutine.

Size: over UDP a response fits the client's EDNS0 buffer (512 bytes without EDNS0); when it does not,
the records are dropped and the TC bit set so the client retries over TCP (RFC 1035 4.2.1, RFC 6891).
Our own advertised EDNS0 buffer is 1232 bytes (the DNS Flag Day 2020 value, safe from fragmentation).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdatatype
from skiff_common.observability import get_logger

from skiff_dns import metrics
from skiff_dns.answer import REVERSE_ZONES, Answer, Resolver
from skiff_dns.cache import CachedResponse, ResponseCache
from skiff_dns.forward import Forwarder

log = get_logger(__name__)
OUR_EDNS_PAYLOAD = 1232
TCP_MAX = 65535
FORWARDED_ZONE = "."


def udp_limit(query: dns.message.Message) -> int:
    return max(512, query.payload) if query.edns >= 0 else 512


def render(response: dns.message.Message, limit: int) -> bytes:
    """The response's wire form within `limit` bytes; truncated (TC, no records) when it does not fit."""
    try:
        return response.to_wire(max_size=limit)
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        return response.to_wire(max_size=limit)


def _formerr(wire: bytes) -> bytes | None:
    """FORMERR for a message whose header parsed but whose body did not; None (drop) for garbage."""
    if len(wire) < 12:
        return None
    flags = int.from_bytes(wire[2:4], "big")
    if flags & dns.flags.QR:
        return None  # a response sent to us: never answer one (reflection loops)
    reply = bytearray(wire[:2]) + ((flags | dns.flags.QR) & ~0x000F | dns.rcode.FORMERR).to_bytes(2, "big")
    return bytes(reply + bytes(8))


class QueryHandler:
    def __init__(
        self,
        resolver: Resolver,
        forwarder: Forwarder,
        server: str,
        ready: Callable[[], bool] = lambda: True,
        cache_entries: int = 10_000,
    ) -> None:
        self.resolver = resolver
        self.ready = ready
        self.cache = ResponseCache(server, cache_entries)
        self.forwarder = forwarder
        self.server = server
        self.zone = resolver.zone_label

    def handle(self, wire: bytes, proto: str, family: str) -> bytes | Awaitable[bytes | None] | None:
        """The response bytes, or an awaitable of them (forwarding), or None to send nothing."""
        start = time.perf_counter()
        hit = self.cache.get(proto, wire)
        if hit is not None:
            metrics.requests.get(self.server, hit.zone, proto, family, hit.type_label).inc()
            metrics.responses.get(self.server, hit.zone, hit.rcode).inc()
            metrics.duration.get(self.server, hit.zone, hit.type_label).observe(time.perf_counter() - start)
            return wire[:2] + hit.wire[2:]
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return _formerr(wire)
        if query.flags & dns.flags.QR:
            return None
        limit = udp_limit(query) if proto == "udp" else TCP_MAX
        if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
            response = dns.message.make_response(query, our_payload=OUR_EDNS_PAYLOAD)
            response.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
            return render(response, limit)
        question = query.question[0]
        qtype = dns.rdatatype.to_text(question.rdtype)
        answer = self.resolver.resolve(question.name, question.rdtype)
        if answer is not None and not self.ready():
            answer = Answer(rcode=dns.rcode.SERVFAIL)  # not synced: never a wrong NXDOMAIN (see app.py)
        zone = self._zone_of(question.name) if answer is not None else FORWARDED_ZONE
        metrics.requests.get(self.server, zone, proto, family, metrics.type_label(qtype)).inc()
        if answer is None:
            return self._forwarded(query, limit, start, qtype)
        response = self._response(query, answer)
        if answer.chase is not None:
            return self._chased(query, response, answer, limit, start, qtype)
        out = self._done(response, limit, start, zone, qtype)
        if self.ready():
            rcode = dns.rcode.to_text(response.rcode())
            self.cache.put(proto, wire, CachedResponse(out, zone, metrics.type_label(qtype), rcode))
        return out

    def _zone_of(self, name: dns.name.Name) -> str:
        if name.is_subdomain(self.resolver.zone):
            return self.zone
        return next((z.to_text() for z in REVERSE_ZONES if name.is_subdomain(z)), FORWARDED_ZONE)

    def _response(self, query: dns.message.Message, answer: Answer) -> dns.message.Message:
        response = dns.message.make_response(query, our_payload=OUR_EDNS_PAYLOAD)
        response.flags |= dns.flags.AA
        if self.forwarder.nameservers:
            response.flags |= dns.flags.RA  # recursion is available: other names are forwarded
        response.set_rcode(answer.rcode)
        response.answer.extend(answer.answer)
        response.authority.extend(answer.authority)
        response.additional.extend(answer.additional)
        return response

    def _done(self, response: dns.message.Message, limit: int, start: float, zone: str, qtype: str) -> bytes:
        out = render(response, limit)
        metrics.responses.get(self.server, zone, dns.rcode.to_text(response.rcode())).inc()
        metrics.duration.get(self.server, zone, metrics.type_label(qtype)).observe(time.perf_counter() - start)
        return out

    async def _forwarded(self, query: dns.message.Message, limit: int, start: float, qtype: str) -> bytes | None:
        upstream = await self.forwarder.forward(query)
        upstream.id = query.id
        return self._done(upstream, limit, start, FORWARDED_ZONE, qtype)

    async def _chased(
        self,
        query: dns.message.Message,
        response: dns.message.Message,
        answer: Answer,
        limit: int,
        start: float,
        qtype: str,
    ) -> bytes | None:
        """An ExternalName's CNAME target outside the cluster: ask upstream for it and append its answer."""
        assert answer.chase is not None
        sub = dns.message.make_query(answer.chase, query.question[0].rdtype)
        upstream = await self.forwarder.forward(sub)
        response.answer.extend(upstream.answer)
        if upstream.rcode() == dns.rcode.NXDOMAIN:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return self._done(response, limit, start, self.zone, qtype)
