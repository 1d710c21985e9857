"""Prometheus metrics under CoreDNS's names, so CoreDNS dashboards and alerts read skiff-dns unchanged.

Label values follow CoreDNS: ``server`` is ``dns://host:port``, ``zone`` the zone that answered (the
cluster domain, a reverse zone, or ``.`` for forwarded names), ``proto`` udp/tcp, ``family`` 1 (IPv4)
or 2 (IPv6), ``type`` the query type from a fixed set (anything else is "other", so a client cannot
blow up the label space). There is no ``coredns_cache_entries``: skiff-dns keeps no response cache; its
answers come from the informer caches, which hold objects, not responses.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from skiff_common.observability.metrics import LabelCache

KNOWN_TYPES = frozenset({"A", "AAAA", "CNAME", "SRV", "PTR", "TXT", "SOA", "NS", "MX", "ANY", "HTTPS", "SVCB"})

REQUESTS = Counter(
    "coredns_dns_requests_total",
    "DNS requests received, by server, zone, transport, address family and query type.",
    ["server", "zone", "proto", "family", "type"],
)
RESPONSES = Counter(
    "coredns_dns_responses_total",
    "DNS responses sent, by server, zone and response code.",
    ["server", "zone", "rcode"],
)
DURATION = Histogram(
    "coredns_dns_request_duration_seconds",
    "Time from a request's arrival to its response, by server, zone and query type.",
    ["server", "zone", "type"],
    buckets=(0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048),
)
FORWARD_REQUESTS = Counter(
    "coredns_forward_requests_total",
    "Queries forwarded to an upstream resolver, by upstream.",
    ["to"],
)

requests = LabelCache(REQUESTS)
responses = LabelCache(RESPONSES)
duration = LabelCache(DURATION)
forward_requests = LabelCache(FORWARD_REQUESTS)


def type_label(rdtype_text: str) -> str:
    return rdtype_text if rdtype_text in KNOWN_TYPES else "other"
