"""create_channel's endpoint lists: one channel over several servers (an HA control plane's apiservers)
keeps answering when the server in use stops, over mutual TLS checked against every member's certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from skiff_common.grpcutil import add_listen, create_channel, create_server
from skiff_common.grpcutil.channel import failover_target, split_endpoints
from skiff_common.pki import ClusterPKI
from skiff_common.pki.issue import CertProfile
from skiff_common.pki.profiles import apiserver_hosts


@pytest.mark.parametrize(
    ("target", "want"),
    [
        ("127.0.0.1:6443,127.0.0.1:7443", ("ipv4:127.0.0.1:6443,127.0.0.1:7443", "127.0.0.1")),
        ("10.0.0.1:6443, 10.0.0.2:6443", ("ipv4:10.0.0.1:6443,10.0.0.2:6443", "kubernetes")),
        ("[::1]:6443,[::1]:7443", ("ipv6:[::1]:6443,[::1]:7443", "::1")),
    ],
)
def test_failover_target(target: str, want: tuple[str, str]) -> None:
    assert failover_target(target) == want


@pytest.mark.parametrize("bad", ["127.0.0.1:6443,127.0.0.1", "127.0.0.1:6443,:7443", "a:b,c:d"])
def test_bad_endpoint_names_the_entry(bad: str) -> None:
    with pytest.raises(ValueError, match="apiserver address"):
        split_endpoints(bad)


def _member(pki: ClusterPKI, name: str) -> Any:
    profile = CertProfile(f"{name}/apiserver", "kube-apiserver", "server", hosts=apiserver_hosts(name, ()))
    return pki.ensure([profile])[profile.name]


def _named(name: bytes) -> Any:
    async def handler(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
        return name

    return handler


async def test_a_call_moves_to_the_next_member_when_one_stops(tmp_path: Path) -> None:
    pki = ClusterPKI(tmp_path)
    client = pki.ensure([CertProfile("admin", "kubernetes-admin", "client")])["admin"]
    servers, ports = [], []
    for name in ("cp0", "cp1"):
        server = create_server(f"member-{name}", tls=_member(pki, name))
        handler = grpc.unary_unary_rpc_method_handler(_named(name.encode()))
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.Who", {"Am": handler}),))
        ports.append(add_listen(server, "127.0.0.1:0"))
        await server.start()
        servers.append(server)
    try:
        target = ",".join(f"127.0.0.1:{p}" for p in ports)
        async with create_channel(target, tls=client) as channel:
            who = channel.unary_unary("/t.Who/Am")
            first = await who(b"", timeout=10, wait_for_ready=True)
            assert first in (b"cp0", b"cp1")
            await servers[int(first == b"cp1")].stop(None)
            second = await who(b"", timeout=10, wait_for_ready=True)
            assert second != first
    finally:
        for server in servers:
            await server.stop(None)
