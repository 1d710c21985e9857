"""Services against real etcd: cluster IPs and node ports allocated from their ranges, unique across
apiserver replicas, requested ones honoured or refused with field errors, released on delete and on type
changes; the `kubernetes` Service."""

from __future__ import annotations

import asyncio
import ipaddress
import json

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pack, uniq, unpack
from skiff.api.core.v1 import service_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.advertise import needs_own_listener


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


def node_port_service(name: str, *node_ports: int, type_: str = "NodePort") -> service_pb2.Service:
    s = service(name, type_=type_)
    del s.spec.ports[:]
    for i, np in enumerate(node_ports or (0,)):
        s.spec.ports.add(name=f"p{i}", port=80 + i, node_port=np)
    return s


async def _delete(api, name: str) -> None:
    await api.stub.Delete(pb.DeleteRequest(resource="services", namespace="default", name=name))


async def test_two_apiservers_on_one_etcd_never_double_allocate(server_factory) -> None:
    """Both replicas allocate from one small range at once: every IP and node port is handed out once,
    and the request past the end of the range is refused, not given a duplicate."""
    a = await server_factory(service_cluster_ip_range="10.97.0.0/28", service_node_port_range="30000-30011")
    b = await server_factory(service_cluster_ip_range="10.97.0.0/28", service_node_port_range="30000-30011")
    # /28: 16 addresses - network - broadcast - the kubernetes Service's = 13 to hand out.
    names = [uniq("ip") for _ in range(13)]
    made = await asyncio.gather(*(create((a if i % 2 else b).stub, service(n)) for i, n in enumerate(names)))
    ips = [s.spec.cluster_ip for s in made]
    assert len(set(ips)) == 13 and "10.97.0.1" not in ips
    full = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(a.stub, service(uniq("full"))))
    assert full.errors[0].path == "spec.clusterIP" and "full" in full.errors[0].detail
    for n in names[:7]:  # free 7 addresses: 6 for the node-port Services, 1 for the refused one
        await _delete(a, n)
    ports_made = await asyncio.gather(
        *(create((a if i % 2 else b).stub, node_port_service(uniq("np"), 0, 0)) for i in range(6))
    )
    ports = [p.node_port for s in ports_made for p in s.spec.ports]
    assert len(ports) == 12 and len(set(ports)) == 12 and all(30000 <= p <= 30011 for p in ports)
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(b.stub, node_port_service(uniq("np"))))
    assert err.errors[0].path == "spec.ports[0].nodePort"
    # the refused create kept nothing: the cluster IP it had taken before its node port failed went back
    base = ipaddress.ip_address("10.97.0.0")
    taken = {s.spec.cluster_ip for s in ports_made} | set(ips[7:])
    spare = [str(base + i) for i in range(2, 15) if str(base + i) not in taken]
    assert len(spare) == 1
    assert (await create(a.stub, service(uniq("spare"), cluster_ip=spare[0]))).spec.cluster_ip == spare[0]


async def test_node_ports_requested_taken_out_of_range_and_released(api) -> None:
    svc = await create(api.stub, node_port_service(uniq("np"), 30080, 0))
    assert svc.spec.ports[0].node_port == 30080 and 30000 <= svc.spec.ports[1].node_port <= 32767
    assert svc.spec.external_traffic_policy == "Cluster"
    taken = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, node_port_service(uniq("np"), 30080)))
    assert (taken.errors[0].path, taken.errors[0].reason) == ("spec.ports[0].nodePort", "Invalid value")
    assert "provided port is already allocated" in taken.errors[0].detail
    out = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, node_port_service(uniq("np"), 0, 40000))
    )
    assert out.errors[0].path == "spec.ports[1].nodePort"
    assert "not in the valid range. The range of valid ports is 30000-32767" in out.errors[0].detail
    await _delete(api, svc.metadata.name)
    again = await create(api.stub, node_port_service(uniq("np"), 30080))
    assert again.spec.ports[0].node_port == 30080


async def test_load_balancer_gets_node_ports_and_stays_pending(api) -> None:
    lb = await create(api.stub, node_port_service(uniq("lb"), 0, type_="LoadBalancer"))
    assert lb.spec.ports[0].node_port and lb.spec.cluster_ip
    assert list(lb.status.load_balancer.ingress) == []
    assert lb.spec.allocate_load_balancer_node_ports
    # a merge patch back to ClusterIP (the stored node ports and LB-only fields come along) is accepted
    patch = json.dumps({"spec": {"type": "ClusterIP"}}).encode()
    req = pb.PatchRequest(
        resource="services",
        namespace="default",
        name=lb.metadata.name,
        patch_type="application/merge-patch+json",
        patch=patch,
    )
    plain = unpack((await api.stub.Patch(req)).object)
    assert plain.spec.ports[0].node_port == 0 and not plain.spec.HasField("allocate_load_balancer_node_ports")
    assert plain.spec.external_traffic_policy == "" and plain.spec.cluster_ip == lb.spec.cluster_ip
    # allocateLoadBalancerNodePorts: false gives only the node ports asked for
    lean = node_port_service(uniq("lean"), 0, 30555, type_="LoadBalancer")
    lean.spec.allocate_load_balancer_node_ports = False
    lean = await create(api.stub, lean)
    assert [p.node_port for p in lean.spec.ports] == [0, 30555]


async def test_type_change_allocates_and_releases_node_ports(api) -> None:
    s = await create(api.stub, service(uniq("flip")))
    assert s.spec.ports[0].node_port == 0
    s.spec.type = "NodePort"
    s.spec.ports[0].node_port = 30123
    s = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(s)))).object)
    assert s.spec.ports[0].node_port == 30123 and s.spec.external_traffic_policy == "Cluster"
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, node_port_service(uniq("np"), 30123)))
    # an update that leaves the node port out keeps it
    s.spec.ports[0].node_port = 0
    s = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(s)))).object)
    assert s.spec.ports[0].node_port == 30123
    # back to ClusterIP: the node port (and the external policy) are dropped and the port is free again
    s.spec.type = "ClusterIP"
    s = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(s)))).object)
    assert s.spec.ports[0].node_port == 0 and s.spec.external_traffic_policy == ""
    assert (await create(api.stub, node_port_service(uniq("np"), 30123))).spec.ports[0].node_port == 30123


async def test_external_name_holds_no_ip(api) -> None:
    s = service(uniq("ext"), type_="ExternalName")
    s.spec.external_name = "db.example.com"
    ext = await create(api.stub, s)
    assert ext.spec.cluster_ip == "" and list(ext.spec.cluster_ips) == []
    ext.spec.type = "ClusterIP"  # becoming ClusterIP allocates an address
    ext.spec.external_name = ""
    moved = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(ext)))).object)
    assert moved.spec.cluster_ip and list(moved.spec.cluster_ips) == [moved.spec.cluster_ip]


async def test_bad_port_name_is_a_field_error_over_the_wire(api) -> None:
    s = service(uniq("bad"))
    s.spec.ports.add(name="Not_A_Label", port=81)
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, s))
    paths = {(e.path, e.reason) for e in err.errors}
    assert ("spec.ports[0].name", "Required value") in paths
    assert ("spec.ports[1].name", "Invalid value") in paths
    assert "spec.ports[1].name: Invalid value" in err.message


async def test_kubernetes_service_exists_and_is_repaired(server_factory) -> None:
    api = await server_factory()
    port = api.app.port
    svc = await get(api.stub, "services", "kubernetes")
    assert svc.spec.cluster_ip == "10.96.0.1" and list(svc.spec.cluster_ips) == ["10.96.0.1"]
    assert [(p.name, p.port, p.protocol, p.target_port.int_val) for p in svc.spec.ports] == [
        ("https", 443, "TCP", port)
    ]
    ep = await get(api.stub, "endpoints", "kubernetes")
    assert [(a.ip) for a in ep.subsets[0].addresses] == ["127.0.0.1"]
    assert [(p.name, p.port) for p in ep.subsets[0].ports] == [("https", port)]
    # someone breaks both; the next apiserver start repairs them (and a start that finds them right is quiet)
    svc.spec.ports[0].port = 8443
    await api.stub.Update(pb.UpdateRequest(object=pack(svc)))
    await api.stub.Delete(pb.DeleteRequest(resource="endpoints", namespace="default", name="kubernetes"))
    again = await server_factory(advertise_address="127.0.0.2")
    fixed = await get(again.stub, "services", "kubernetes")
    assert fixed.metadata.uid == svc.metadata.uid
    assert [(p.port, p.target_port.int_val) for p in fixed.spec.ports] == [(443, again.app.port)]
    # the Endpoints name both live apiservers (one subset per port: test_kubernetes_endpoints.py)
    ep = await get(again.stub, "endpoints", "kubernetes")
    assert sorted((s.addresses[0].ip, s.ports[0].port) for s in ep.subsets) == sorted(
        [("127.0.0.1", port), ("127.0.0.2", again.app.port)]
    )
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(again.stub, service(uniq("first"), cluster_ip="10.96.0.1"))
    )


async def test_repair_releases_leaks_and_restores_missing_keys(api) -> None:
    """An IP taken by a create that never stored its Service (an apiserver dying in between) is released
    after it was seen leaked three passes in a row; a Service whose IP lost its key gets it back."""
    repair = api.app.repair
    ips = repair.allocations.ips
    await ips.allocate("default/never-stored", "10.96.0.200")
    for _ in range(2):
        assert (await repair.run_once()).released == []  # could still be a create in flight
    assert (await repair.run_once()).released == ["ip 10.96.0.200 (default/never-stored)"]
    assert (await create(api.stub, service(uniq("after"), cluster_ip="10.96.0.200"))).spec.cluster_ip
    held = await create(api.stub, node_port_service(uniq("held"), 30444))
    await ips.keys.release(held.spec.cluster_ip, f"default/{held.metadata.name}")  # the key is lost
    await repair.allocations.ports.keys.release("30444", f"default/{held.metadata.name}")
    report = await repair.run_once()
    assert f"ip {held.spec.cluster_ip} (default/{held.metadata.name})" in report.restored
    assert f"port 30444 (default/{held.metadata.name})" in report.restored
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, service(uniq("twice"), cluster_ip=held.spec.cluster_ip))
    )
    assert "already allocated" in err.errors[0].detail


async def test_dry_run_refuses_what_the_create_would_and_takes_nothing(api) -> None:
    held = await create(api.stub, node_port_service(uniq("held"), 30777))
    dup = service(uniq("dup"), cluster_ip=held.spec.cluster_ip)
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, api.stub.Create(pb.CreateRequest(object=pack(dup), dry_run=True))
    )
    assert err.errors[0].path == "spec.clusterIP"
    dup_port = node_port_service(uniq("dup"), 30777)
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, api.stub.Create(pb.CreateRequest(object=pack(dup_port), dry_run=True))
    )
    assert err.errors[0].path == "spec.ports[0].nodePort"
    free = node_port_service(uniq("free"), 30778)
    free.spec.cluster_ip = "10.96.0.78"
    await api.stub.Create(pb.CreateRequest(object=pack(free), dry_run=True))
    made = await create(api.stub, free)  # the dry run took neither the IP nor the port
    assert made.spec.cluster_ip == "10.96.0.78" and made.spec.ports[0].node_port == 30778


async def test_kubernetes_service_leads_to_the_rest_api_on_the_advertise_address(server_factory) -> None:
    """With the REST API served, the `kubernetes` Service targets it (as kube-apiserver's secure port) and
    the API answers on --advertise-address too (here another loopback address; `skiff up` uses the pod
    bridge's gateway)."""
    api = await server_factory(secure_port=0, advertise_address="127.0.0.3")
    rest_port = api.app.rest_port
    assert rest_port and rest_port != api.app.port
    svc = await get(api.stub, "services", "kubernetes")
    assert [(p.port, p.target_port.int_val) for p in svc.spec.ports] == [(443, rest_port)]
    ep = await get(api.stub, "endpoints", "kubernetes")
    assert [a.ip for a in ep.subsets[0].addresses] == ["127.0.0.3"]
    assert [p.port for p in ep.subsets[0].ports] == [rest_port]
    for host in ("127.0.0.1", "127.0.0.3"):
        reader, writer = await asyncio.open_connection(host, rest_port)
        writer.write(b"GET /version HTTP/1.0\r\n\r\n")
        answer = await reader.read()
        writer.close()
        assert answer.startswith(b"HTTP/1.") and b"gitVersion" in answer, (host, answer[:200])


@pytest.mark.parametrize(
    ("listen_host", "advertise", "own"),
    [
        ("127.0.0.1", "127.0.0.1", False),
        ("127.0.0.1", "10.88.0.1", True),
        ("0.0.0.0", "10.88.0.1", False),  # already served on every address
        ("[::1]", "::1", False),
        ("127.0.0.1", "", False),
    ],
)
def test_advertise_address_needs_its_own_listener(listen_host: str, advertise: str, own: bool) -> None:
    assert needs_own_listener(listen_host, advertise) is own


@pytest.mark.parametrize(("advertise_grpc", "host"), [(True, "127.0.0.4"), (False, "127.0.0.5")])
async def test_the_grpc_api_listens_on_the_advertise_address_when_asked(
    server_factory, advertise_grpc: bool, host: str
) -> None:
    """--advertise-grpc: other nodes (a multi-node cluster's node bridge) dial the gRPC API there too."""
    api = await server_factory(advertise_address=host, advertise_grpc=advertise_grpc)
    try:
        _reader, writer = await asyncio.open_connection(host, api.app.port)
    except ConnectionRefusedError:
        assert not advertise_grpc
    else:
        writer.close()
        assert advertise_grpc
