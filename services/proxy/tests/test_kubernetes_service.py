"""The `kubernetes` Service of a control plane on one machine: every apiserver advertises the same
address on its own port, so the apiserver writes one EndpointSlice per port (`kubernetes`,
`kubernetes-<port>`). The proxy takes each slice's own port: the ClusterIP balances over all of them."""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import service_pb2
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff_proxy import model, nftables
from skiff_proxy.model import Backend

GATEWAY = "10.244.0.1"
PORTS = (40001, 40002, 40003)


def kubernetes_service() -> Any:
    s = service_pb2.Service()
    s.metadata.name, s.metadata.namespace = "kubernetes", "default"
    s.spec.cluster_ip, s.spec.type, s.spec.session_affinity = "10.96.0.1", "ClusterIP", "None"
    p = s.spec.ports.add(name="https", port=443, protocol="TCP")
    p.target_port.int_val = PORTS[0]  # its creator's port; the slices carry each member's own
    return s


def apiserver_slice(name: str, port: int) -> Any:
    s = es.EndpointSlice(address_type="IPv4")
    s.metadata.name, s.metadata.namespace = name, "default"
    s.metadata.labels[model.SERVICE_NAME_LABEL] = "kubernetes"
    s.ports.add(name="https", protocol="TCP", port=port)
    s.endpoints.add(addresses=[GATEWAY]).conditions.ready = True
    return s


def test_the_cluster_ip_balances_over_every_apiserver_port() -> None:
    slices = [apiserver_slice("kubernetes" if i == 0 else f"kubernetes-{p}", p) for i, p in enumerate(PORTS)]
    (sp,) = model.build([kubernetes_service()], slices)
    assert (sp.cluster_ip, sp.port) == ("10.96.0.1", 443)
    assert sp.endpoints == tuple(Backend(GATEWAY, p) for p in PORTS)
    text = nftables.render([sp], nftables.Options(cluster_cidr="10.244.0.0/16", service_cidr="10.96.0.0/16"))
    assert "numgen random mod 3 vmap" in text
    for port in PORTS:
        assert f"dnat to {GATEWAY}:{port}" in text
