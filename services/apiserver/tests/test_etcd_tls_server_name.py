"""Which name etcd's serving certificate is checked against (pure logic; tests/helm proves it against a
real etcd behind a Service name, whose certificate names the Service and not its address)."""

from __future__ import annotations

import pytest
from skiff_apiserver.storage.etcd import tls_server_name


@pytest.mark.parametrize(
    ("endpoints", "name"),
    [
        (["skiff-etcd:2379"], "skiff-etcd"),
        (["https://skiff-etcd:2379"], "skiff-etcd"),
        (["etcd.example:2379", "etcd.example:2379"], "etcd.example"),
        (["127.0.0.1:2379"], None),
        (["[::1]:2379"], None),
        (["etcd-0.etcd:2379", "etcd-1.etcd:2379"], None),  # each member's own certificate
        (["127.0.0.1:2379", "127.0.0.1:22379"], "127.0.0.1"),  # stacked members on one host
        (["10.0.0.1:2379", "10.0.0.2:2379"], "localhost"),  # in every member's certificate
    ],
)
def test_tls_server_name(endpoints: list[str], name: str | None) -> None:
    assert tls_server_name(endpoints) == name
