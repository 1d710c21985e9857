"""skiff-dns against a real etcd and apiserver, queried over UDP and TCP on 127.0.0.1 with dnspython.

Upstream forwarding is tested against a tiny dnspython server on 127.0.0.1 (no query ever leaves the
machine: the upstream resolv.conf names only 127.0.0.1)."""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from dns_helpers import endpoints, records, service
from skiff.api.core.v1 import service_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually, free_port
from skiff_dns.app import DnsApp
from skiff_dns.config import DnsConfig
from skiff_dns.source import detect_source

pytestmark = pytest.mark.etcd
Z = "cluster.local."


class LocalUpstream(asyncio.DatagramProtocol):
    """An upstream resolver on 127.0.0.1 that knows one name."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        if query.question[0].name.to_text() == "upstream.test.":
            response.answer.append(dns.rrset.from_text("upstream.test.", 60, "IN", "A", "192.0.2.7"))
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
        self.transport.sendto(response.to_wire(), addr)  # type: ignore[attr-defined]


@pytest.fixture
async def upstream(tmp_path: Path) -> AsyncIterator[tuple[Path, int]]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(LocalUpstream, local_addr=("127.0.0.1", 0))
    port = transport.get_extra_info("sockname")[1]
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("# the test's own resolver\nnameserver 127.0.0.1\noptions ndots:5\n")
    try:
        yield resolv, port
    finally:
        transport.close()


@pytest.fixture
def make_app(client: ApiClient, upstream: tuple[Path, int]) -> Callable[[], DnsApp]:
    resolv, port = upstream

    def make() -> DnsApp:
        cfg = DnsConfig(
            listen=["127.0.0.1:0"],
            upstream_resolv_conf=str(resolv),
            upstream_port=port,
            health_address=f"127.0.0.1:{free_port()}",
        )
        return DnsApp(client, cfg)

    return make


@pytest.fixture
async def dns_app(make_app: Callable[[], DnsApp]) -> AsyncIterator[DnsApp]:
    app = make_app()
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


async def ask(app: DnsApp, name: str, rdtype: str = "A", proto: str = "udp") -> dns.message.Message:
    host, port = app.server.bound[0]
    query = dns.message.make_query(name, rdtype)
    if proto == "udp":
        return await dns.asyncquery.udp(query, host, port=port, timeout=5)
    return await dns.asyncquery.tcp(query, host, port=port, timeout=5)


async def test_a_new_service_resolves_over_udp_and_tcp(client: ApiClient, dns_app: DnsApp) -> None:
    await dns_app.wait_synced()
    created = await client.create(service("web", ports=[("http", 80, "TCP")]))
    ip = created.spec.cluster_ip
    assert ip

    async def resolved() -> bool:
        return records(await ask(dns_app, "web.default.svc.cluster.local")) == {(f"web.default.svc.{Z}", "A", ip)}

    await eventually(resolved, "web to resolve over UDP")
    tcp = await ask(dns_app, "web.default.svc.cluster.local", proto="tcp")
    assert records(tcp) == {(f"web.default.svc.{Z}", "A", ip)}
    srv = await ask(dns_app, "_http._tcp.web.default.svc.cluster.local", "SRV", proto="tcp")
    assert records(srv) == {(f"_http._tcp.web.default.svc.{Z}", "SRV", f"0 100 80 web.default.svc.{Z}")}
    missing = await ask(dns_app, "nope.default.svc.cluster.local")
    assert missing.rcode() == dns.rcode.NXDOMAIN


async def test_endpoint_changes_and_deletes_are_reflected(client: ApiClient, dns_app: DnsApp) -> None:
    await client.create(service("db", cluster_ip="None", ports=[("pg", 5432, "TCP")]))
    await client.create(endpoints("db", addresses=[("10.88.0.7", "db-0")], ports=[("pg", 5432, "TCP")]))
    name = "db.default.svc.cluster.local"

    async def answers(want: set[tuple[str, str, str]]) -> Callable[[], object]:
        async def check() -> bool:
            return records(await ask(dns_app, name)) == want

        return check

    await eventually(await answers({(f"db.default.svc.{Z}", "A", "10.88.0.7")}), "db-0's address")
    ep = await client.get(service_pb2.Endpoints, "db", "default")
    ep.subsets[0].addresses[0].ip = "10.88.0.8"
    await client.update(ep)
    await eventually(await answers({(f"db.default.svc.{Z}", "A", "10.88.0.8")}), "the updated address")
    host = await ask(dns_app, "db-0.db.default.svc.cluster.local")
    assert records(host) == {(f"db-0.db.default.svc.{Z}", "A", "10.88.0.8")}
    await client.delete(service_pb2.Service, "db", "default")

    async def gone() -> bool:
        return (await ask(dns_app, name)).rcode() == dns.rcode.NXDOMAIN

    await eventually(gone, "db to be NXDOMAIN after its deletion")


async def test_restart_serves_correct_answers_once_synced(
    client: ApiClient, make_app: Callable[[], DnsApp], dns_app: DnsApp
) -> None:
    created = await client.create(service("api", ports=[("https", 443, "TCP")]))
    await dns_app.stop()
    # changes while skiff-dns is down are seen after the restart
    await client.delete(service_pb2.Service, "api", "default")
    again = await client.create(service("api2", ports=[("https", 443, "TCP")]))
    restarted = make_app()
    await restarted.start()
    try:
        await restarted.wait_synced()
        assert records(await ask(restarted, "api2.default.svc.cluster.local")) == {
            (f"api2.default.svc.{Z}", "A", again.spec.cluster_ip)
        }
        assert (await ask(restarted, "api.default.svc.cluster.local")).rcode() == dns.rcode.NXDOMAIN
        assert created.spec.cluster_ip
    finally:
        await restarted.stop()


async def test_other_names_are_forwarded_to_the_upstream_resolver(dns_app: DnsApp) -> None:
    await dns_app.wait_synced()
    msg = await ask(dns_app, "upstream.test")
    assert records(msg) == {("upstream.test.", "A", "192.0.2.7")}
    assert (await ask(dns_app, "nothing.test")).rcode() == dns.rcode.NXDOMAIN


async def test_external_name_target_outside_the_cluster_is_resolved_upstream(
    client: ApiClient, dns_app: DnsApp
) -> None:
    await client.create(service("ext", external_name="upstream.test"))

    async def chased() -> bool:
        return records(await ask(dns_app, "ext.default.svc.cluster.local")) == {
            (f"ext.default.svc.{Z}", "CNAME", "upstream.test."),
            ("upstream.test.", "A", "192.0.2.7"),
        }

    await eventually(chased, "the ExternalName CNAME and its target's address")


async def test_readyz_turns_ok_when_the_caches_have_synced(dns_app: DnsApp) -> None:
    await dns_app.wait_synced()
    assert dns_app.health is not None
    port = dns_app.cfg.health_address.rsplit(":", 1)[1]

    def get(path: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return int(resp.status)

    assert await asyncio.to_thread(get, "/healthz") == 200
    assert await asyncio.to_thread(get, "/readyz") == 200


async def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp(client: ApiClient, dns_app: DnsApp) -> None:
    await client.create(service("many", cluster_ip="None", ports=[("http", 80, "TCP")]))
    addresses = [(f"10.88.2.{i}", "") for i in range(1, 101)]
    await client.create(endpoints("many", addresses=addresses, ports=[("http", 80, "TCP")]))
    host, port = dns_app.server.bound[0]
    query = dns.message.make_query("many.default.svc.cluster.local", "A")

    async def all_over_tcp() -> bool:
        return len(records(await ask(dns_app, "many.default.svc.cluster.local", proto="tcp"))) == 100

    await eventually(all_over_tcp, "100 endpoints over TCP")
    udp = await dns.asyncquery.udp(query, host, port=port, timeout=5)
    assert udp.flags & dns.flags.TC and not udp.answer
    response, used_tcp = await dns.asyncquery.udp_with_fallback(query, host, port=port, timeout=5)
    assert used_tcp and len(records(response)) == 100


async def test_the_endpoint_source_follows_what_the_apiserver_serves(client: ApiClient) -> None:
    served = {(r.name, r.api_version) for r in await client.list_resources()}
    want = "endpointslices" if ("endpointslices", "discovery.k8s.io/v1") in served else "endpoints"
    assert await detect_source(client) == want
    assert ("endpoints", "v1") in served
