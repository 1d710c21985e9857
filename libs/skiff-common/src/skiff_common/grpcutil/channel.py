"""Client channels: one constructor so every Skiff client traces, measures and keeps watches alive.

Targets are anything grpc accepts ("127.0.0.1:6443", "dns:///apiserver:6443", "unix:///run/x.sock").
With TLS the channel presents this component's certificate (mutual TLS); `server_name` overrides the
name checked against the server certificate, needed when dialling an address that is not one of its SANs
(for example a unix socket).
"""

from __future__ import annotations

import grpc
import grpc.aio

from skiff_common.grpcutil.client_interceptors import default_client_interceptors
from skiff_common.grpcutil.credentials import TLSConfig, channel_credentials


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
    if server_name:
        options.append(("grpc.ssl_target_name_override", server_name))
    interceptors = default_client_interceptors(target)
    if tls is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(target, channel_credentials(tls), options=options, interceptors=interceptors)
