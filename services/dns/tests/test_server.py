"""The transports on real sockets (127.0.0.1 only; a not-yet-existing address is bound, never used)."""

from __future__ import annotations

import dns.asyncquery
import dns.message
import pytest
from dns_helpers import Cluster, records, service
from skiff_dns.server import DnsServer

ABSENT = "10.255.255.254"  # configured on no interface: only bound, no packet goes to it


async def test_freebind_listens_on_an_address_that_does_not_exist_yet() -> None:
    c = Cluster().add(service("web", cluster_ip="10.96.0.20"))
    server = DnsServer(c.handler, [("127.0.0.1", 0), (ABSENT, 0)], freebind=True)
    bound = await server.start()
    try:
        assert [host for host, _ in bound] == ["127.0.0.1", ABSENT]
        host, port = bound[0]
        query = dns.message.make_query("web.default.svc.cluster.local", "A")
        for reply in (
            await dns.asyncquery.udp(query, host, port=port, timeout=5),
            await dns.asyncquery.tcp(query, host, port=port, timeout=5),
        ):
            assert records(reply) == {("web.default.svc.cluster.local.", "A", "10.96.0.20")}
    finally:
        await server.stop()


async def test_without_freebind_a_missing_address_is_a_bind_error() -> None:
    server = DnsServer(Cluster().handler, [(ABSENT, 0)])
    with pytest.raises(OSError):
        await server.start()
    await server.stop()
