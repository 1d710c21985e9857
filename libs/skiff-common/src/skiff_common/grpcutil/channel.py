"""Client channels: one constructor so every Skiff client traces, measures and keeps watches alive.

Targets are anything grpc accepts ("127.0.0.1:6443", "dns:///apiserver:6443", "unix:///run/x.sock").
With TLS the channel presents this component's certificate (mutual TLS); `server_name` overrides the
name checked against the server certificate, needed when dialling an address that is not one of its SANs
(for example a unix socket).

Several apiservers (an HA control plane, kubeadm's stacked topology) are given as a comma-separated list,
"127.0.0.1:6443,127.0.0.1:7443": the channel dials them as one static address list (`ipv4:a,b`) with
gRPC's pick_first policy, so when the member in use dies the channel moves to the next one by itself;
unary calls with wait_for_ready and watches that are re-opened (the informers) then land there. All
members' serving certificates are checked against one name (the list's host when all members share one,
else `kubernetes`, which every apiserver certificate carries as kubeadm issues them), because a list has
no single authority of its own.
"""

from __future__ import annotations

import ipaddress
import socket

import grpc
import grpc.aio

from skiff_common.grpcutil.client_interceptors import default_client_interceptors
from skiff_common.grpcutil.credentials import TLSConfig, channel_credentials

# The SAN every apiserver serving certificate carries (skiff_common.pki.profiles.apiserver_hosts).
SHARED_SERVER_NAME = "kubernetes"


def split_endpoints(target: str) -> list[tuple[str, int]]:
    """`host:port[,host:port...]` as (host, port) pairs; ValueError naming the bad entry otherwise."""
    out = []
    for raw in target.split(","):
        entry = raw.strip()
        host, _, port = entry.rpartition(":")
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise ValueError(f"apiserver address {entry!r}: not host:port")
        out.append((host, int(port)))
    return out


def failover_target(target: str) -> tuple[str, str]:
    """(gRPC target, server name) for a comma-separated list of host:port: a static `ipv4:`/`ipv6:`
    address list (host names resolved once, here) and the one name every member's certificate is
    checked against."""
    addresses, hosts = [], set()
    for host, port in split_endpoints(target):
        hosts.add(host)
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            infos = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)
            if not infos:
                raise ValueError(f"apiserver address {host!r}: cannot resolve") from None
            ip = ipaddress.ip_address(infos[0][4][0])
        addresses.append((ip, port))
    versions = {ip.version for ip, _ in addresses}
    if len(versions) != 1:
        raise ValueError(f"apiserver addresses {target!r}: mix IPv4 and IPv6")
    if versions == {6}:
        grpc_target = "ipv6:" + ",".join(f"[{ip}]:{port}" for ip, port in addresses)
    else:
        grpc_target = "ipv4:" + ",".join(f"{ip}:{port}" for ip, port in addresses)
    return grpc_target, (hosts.pop() if len(hosts) == 1 else SHARED_SERVER_NAME)


def is_endpoint_list(target: str) -> bool:
    return "," in target and ":///" not in target and not target.startswith(("ipv4:", "ipv6:", "unix:"))


def create_channel(
    target: str,
    *,
    tls: TLSConfig | None = None,
    server_name: str | None = None,
    max_message_bytes: int = 4 * 1024 * 1024,
) -> grpc.aio.Channel:
    options: list[tuple[str, str | int]] = [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Detect a dead apiserver under an idle watch within about a minute.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
    ]
    if is_endpoint_list(target):
        target, shared_name = failover_target(target)
        server_name = server_name or shared_name
        options += [
            ("grpc.lb_policy_name", "pick_first"),
            # A member that died is replaced by the next one quickly, not after a long back-off.
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ]
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    interceptors = default_client_interceptors(target)
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(target, channel_credentials(tls), options=options, interceptors=interceptors)
