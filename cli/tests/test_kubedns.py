"""`skiff up`'s kube-dns Service and Endpoints, against a real apiserver."""

from __future__ import annotations

from skiff.api.core.v1 import service_pb2
from skiff_cli.clientconfig import ClientConfig
from skiff_cli.cluster.kubedns import cluster_dns_ip, ensure_kube_dns
from skiff_cli.cluster.layout import ClusterLayout
from skiff_client import ApiClient
from skiff_cluster_fixture import Cluster


def test_the_cluster_dns_ip_is_the_tenth_address_and_pods_reach_the_bridge_gateway() -> None:
    assert cluster_dns_ip() == "10.96.0.10"
    assert cluster_dns_ip("10.100.0.0/24") == "10.100.0.10"
    assert ClusterLayout(pod_cidr="10.88.0.0/16").pod_gateway == "10.88.0.1"


async def test_kube_dns_is_registered_once_selector_less_with_hand_made_endpoints(
    apiserver: Cluster, client: ApiClient
) -> None:
    config = ClientConfig(server=apiserver.target)
    assert await ensure_kube_dns(config, "10.88.0.1") == ["service/kube-dns", "endpoints/kube-dns"]
    assert await ensure_kube_dns(config, "10.88.0.1") == []  # idempotent
    svc = await client.get(service_pb2.Service, "kube-dns", "kube-system")
    assert svc.spec.cluster_ip == "10.96.0.10" and not svc.spec.selector
    assert [(p.name, p.port, p.protocol) for p in svc.spec.ports] == [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]
    ep = await client.get(service_pb2.Endpoints, "kube-dns", "kube-system")
    assert [a.ip for a in ep.subsets[0].addresses] == ["10.88.0.1"]
    assert {(p.name, p.port, p.protocol) for p in ep.subsets[0].ports} == {("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")}
