"""A cache of rendered in-zone responses, keyed by the query's bytes, emptied whenever the cluster changes.

Parsing a query and rendering its answer with dnspython costs far more than finding the answer (a dict
lookup), so the finished wire response is kept, keyed by the query's bytes after its ID (name with its
case, type, flags, EDNS0 buffer) and the transport (UDP answers may be truncated, TCP ones not). A hit
costs one dictionary lookup and a two-byte ID patch.

Unlike CoreDNS's ``cache`` plugin, which serves entries until their TTL runs out, this cache is emptied
by every Service or Endpoints event the informers deliver (``invalidate``), so it never answers from
an older view of the cluster than an uncached query would. Forwarded answers are not cached (they carry
their own TTLs, and the upstream resolver caches them). The size is bounded: when full it is emptied
(cheap, and a full cache is refilled by the next round of the same queries).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ENTRIES = Gauge("coredns_cache_entries", "Responses in the cache.", ["server", "type"])
HITS = Counter("coredns_cache_hits_total", "Queries answered from the cache.", ["server", "type"])
MISSES = Counter("coredns_cache_misses_total", "Queries not found in the cache.", ["server"])


class CachedResponse:
    __slots__ = ("rcode", "type_label", "wire", "zone")

    def __init__(self, wire: bytes, zone: str, type_label: str, rcode: str) -> None:
        self.wire = wire
        self.zone = zone
        self.type_label = type_label
        self.rcode = rcode


class ResponseCache:
    def __init__(self, server: str, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[str, bytes], CachedResponse] = {}
        self._entries_gauge = ENTRIES.labels(server, "success")
        self._hits = HITS.labels(server, "success")
        self._misses = MISSES.labels(server)

    def get(self, proto: str, query: bytes) -> CachedResponse | None:
        """The entry for these query bytes (any ID: the caller patches its own ID in), or None."""
        if self.max_entries == 0:
            return None
        entry = self._entries.get((proto, query[2:]))
        if entry is None:
            self._misses.inc()
        else:
            self._hits.inc()
        return entry

    def put(self, proto: str, query: bytes, entry: CachedResponse) -> None:
        if self.max_entries == 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[(proto, query[2:])] = entry
        self._entries_gauge.set(len(self._entries))

    def invalidate(self, *_objects: object) -> None:
        """Forget every response (an informer handler: any Service or Endpoints event)."""
        if self._entries:
            self._entries.clear()
            self._entries_gauge.set(0)

    def __len__(self) -> int:
        return len(self._entries)
