from __future__ import annotations

from apiserver_testlib import create, get, pod, uniq
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def test_create_get_list(api) -> None:
    name = uniq("web")
    created = await create(api.stub, pod(name))
    assert created.metadata.uid and created.metadata.resource_version
    got = await get(api.stub, "pods", name)
    assert got == created
    resp = await api.stub.List(pb.ListRequest(resource="pods", namespace="default"))
    assert len(resp.items) == 1
