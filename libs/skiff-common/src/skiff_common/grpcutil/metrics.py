"""Prometheus metrics for gRPC servers and clients, labelled by gRPC service, method and status code.

Names follow the go-grpc-prometheus convention with a `skiff_` prefix, so existing dashboards translate.
The histogram's buckets reach minutes because watches are long-lived server-streaming calls.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

SERVER_HANDLED = Counter(
    "skiff_grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["service", "method", "code"],
)
SERVER_HANDLING_SECONDS = Histogram(
    "skiff_grpc_server_handling_seconds",
    "Time from the start of an RPC to its completion on the server.",
    ["service", "method"],
    buckets=_BUCKETS,
)
CLIENT_HANDLED = Counter(
    "skiff_grpc_client_handled_total",
    "RPCs completed by the client, by status code.",
    ["service", "method", "code"],
)
CLIENT_HANDLING_SECONDS = Histogram(
    "skiff_grpc_client_handling_seconds",
    "Time from the start of an RPC to its completion as seen by the client.",
    ["service", "method"],
    buckets=_BUCKETS,
)
