"""Service cluster IPs: allocated from the range, unique, requested ones honoured, released on delete."""

from __future__ import annotations

import ipaddress

import grpc
from apiserver_testlib import create, expect_error, pack, uniq, unpack
from skiff.api.core.v1 import service_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


def service(name: str, cluster_ip: str = "", type_: str = "") -> service_pb2.Service:
    s = service_pb2.Service()
    s.metadata.name = name
    s.spec.ports.add(port=80)
    s.spec.selector["app"] = name
    s.spec.cluster_ip = cluster_ip
    s.spec.type = type_
    return s


async def test_cluster_ips_are_allocated_unique_and_released(api) -> None:
    a = await create(api.stub, service(uniq("a")))
    a_ip = a.spec.cluster_ip
    b = await create(api.stub, service(uniq("b")))
    net = ipaddress.ip_network("10.96.0.0/12")
    assert ipaddress.ip_address(a.spec.cluster_ip) in net and a.spec.cluster_ip != b.spec.cluster_ip
    assert list(a.spec.cluster_ips) == [a.spec.cluster_ip]
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, service(uniq("c"), cluster_ip=a.spec.cluster_ip))
    )
    assert err.errors[0].path == "spec.clusterIP" and "already allocated" in err.errors[0].detail
    # an update that omits the IP keeps it; changing it is refused
    a.spec.cluster_ip = ""
    del a.spec.cluster_ips[:]
    kept = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(a)))).object)
    assert kept.spec.cluster_ip and kept.spec.cluster_ip == kept.spec.cluster_ips[0]
    kept.spec.cluster_ip = "10.96.9.9"
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(kept))))
    await api.stub.Delete(pb.DeleteRequest(resource="services", namespace="default", name=a.metadata.name))
    # b still holds its IP: asking for it fails; a's IP is free again after the delete
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, service(uniq("e"), cluster_ip=b.spec.cluster_ip))
    )
    reused = await create(api.stub, service(uniq("f"), cluster_ip=a_ip))
    assert reused.spec.cluster_ip == a_ip


async def test_requested_ip_and_headless(api) -> None:
    s = await create(api.stub, service(uniq("fixed"), cluster_ip="10.96.0.77"))
    assert s.spec.cluster_ip == "10.96.0.77"
    await api.stub.Delete(pb.DeleteRequest(resource="services", namespace="default", name=s.metadata.name))
    reused = await create(api.stub, service(uniq("reuse"), cluster_ip="10.96.0.77"))
    assert reused.spec.cluster_ip == "10.96.0.77"
    headless = await create(api.stub, service(uniq("headless"), cluster_ip="None"))
    assert headless.spec.cluster_ip == "None"
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, service(uniq("out"), cluster_ip="192.168.1.1"))
    )
    assert "range" in err.errors[0].detail
