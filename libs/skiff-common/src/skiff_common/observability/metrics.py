"""Prometheus metrics: the default registry plus one HTTP endpoint per process.

All Skiff metrics live in prometheus_client's default registry so any module can declare its own
counters at import time; the endpoint (`/metrics`) is started once per process. A port of 0 picks a
free port (tests); the bound port is returned.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from prometheus_client import start_http_server

M = TypeVar("M")

_lock = threading.Lock()
_servers: dict[str, int] = {}


def parse_host_port(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"metrics_address: expected host:port, got {address!r}")
    return host.strip("[]") or "0.0.0.0", int(port)


def start_metrics_server(address: str) -> int:
    """Serve /metrics on `address` ("127.0.0.1:9101"); idempotent per address; returns the bound port."""
    with _lock:
        if address in _servers:
            return _servers[address]
        host, port = parse_host_port(address)
        server, _thread = start_http_server(port, addr=host)
        bound = int(server.server_port)
        _servers[address] = bound
        return bound


class LabelCache(Generic[M]):
    """Children of a labelled metric, cached by label values.

    `metric.labels(...)` validates, stringifies and joins the values and takes the metric's lock on every
    call; a hot path (a counter per RPC) looks the child up here instead. Only for label sets that are
    naturally bounded (methods x codes, verbs x resources): every distinct key stays cached."""

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: M) -> None:
        self._metric: Any = metric
        self._children: dict[tuple[str, ...], M] = {}

    def get(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child
