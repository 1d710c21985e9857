"""EndpointSlices (discovery.k8s.io/v1): Kubernetes' JSON names, defaults and validation, on real etcd."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, pack, uniq, unpack
from skiff.api.discovery.v1 import endpointslice_pb2 as es
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_common.apimachinery import convert

MANIFEST = {
    "apiVersion": "discovery.k8s.io/v1",
    "kind": "EndpointSlice",
    "metadata": {"name": "example-abc", "labels": {"kubernetes.io/service-name": "example"}},
    "addressType": "IPv4",
    "ports": [{"name": "http", "protocol": "TCP", "port": 80, "appProtocol": "http"}],
    "endpoints": [
        {
            "addresses": ["10.244.0.5"],
            "conditions": {"ready": True, "serving": True, "terminating": False},
            "hostname": "pod-1",
            "nodeName": "node-1",
            "zone": "us-west2-a",
            "targetRef": {"kind": "Pod", "name": "pod-1", "namespace": "default"},
        }
    ],
}


def _slice(name: str, address_type: str = "IPv4", *addresses: str) -> es.EndpointSlice:
    s = es.EndpointSlice(address_type=address_type)
    s.metadata.name = name
    s.metadata.namespace = "default"
    s.endpoints.add(addresses=list(addresses or ["10.244.0.5"]))
    s.ports.add(port=80)
    return s


async def test_manifest_round_trips_with_kubernetes_names(api) -> None:
    obj = convert.from_dict(MANIFEST)
    obj.metadata.name = uniq("example")
    obj.metadata.namespace = "default"
    made = await create(api.stub, obj)
    out = convert.to_dict(made)
    assert out["addressType"] == "IPv4"
    assert out["endpoints"][0]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert out["endpoints"][0]["nodeName"] == "node-1" and out["endpoints"][0]["targetRef"]["kind"] == "Pod"
    assert out["ports"][0] == {"name": "http", "protocol": "TCP", "port": 80, "appProtocol": "http"}


async def test_protocol_defaults_to_tcp(api) -> None:
    made = await create(api.stub, _slice(uniq("d")))
    assert made.ports[0].protocol == "TCP" and made.ports[0].HasField("name")


@pytest.mark.parametrize(
    ("mutate", "path", "reason"),
    [
        (lambda s: setattr(s, "address_type", ""), "addressType", "Required value"),
        (lambda s: setattr(s, "address_type", "IPv5"), "addressType", "Unsupported value"),
        (lambda s: s.endpoints[0].addresses.__setitem__(0, "10.0.0.300"), "endpoints[0].addresses[0]", "Invalid value"),
        (lambda s: s.endpoints[0].addresses.__setitem__(0, "fd00::1"), "endpoints[0].addresses[0]", "Invalid value"),
        (lambda s: s.endpoints.add(), "endpoints[1].addresses", "Required value"),
        (lambda s: setattr(s.endpoints[0], "hostname", "Not_A_Label"), "endpoints[0].hostname", "Invalid value"),
        (lambda s: setattr(s.ports[0], "name", "HTTP_port"), "ports[0].name", "Invalid value"),
        (lambda s: setattr(s.ports[0], "protocol", "ICMP"), "ports[0].protocol", "Unsupported value"),
        (lambda s: setattr(s.ports[0], "port", 70000), "ports[0].port", "Invalid value"),
        (lambda s: s.ports.add(port=81), "ports[1].name", "Duplicate value"),
    ],
)
async def test_bad_slices_get_field_errors(api, mutate, path, reason) -> None:
    s = _slice(uniq("bad"))
    mutate(s)
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, s))
    assert any(e.path == path and e.reason == reason for e in err.errors), err.errors


async def test_address_type_is_immutable(api) -> None:
    made = await create(api.stub, _slice(uniq("imm")))
    made.address_type = "FQDN"
    del made.endpoints[0].addresses[:]
    made.endpoints[0].addresses.append("example.com")
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(made))))
    assert err.errors[0].path == "addressType"
    listed = await api.stub.List(pb.ListRequest(resource="endpointslices", namespace="default"))
    assert any(unpack(o).metadata.name == made.metadata.name for o in listed.items)
