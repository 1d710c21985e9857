"""List: selectors, pagination from one snapshot, resourceVersion semantics, the cache."""

from __future__ import annotations

import grpc
from apiserver_testlib import cache_caught_up, create, expect_error, pod, unpack
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def names(api, **kw) -> list[str]:
    resp = await api.stub.List(pb.ListRequest(resource="pods", **kw))
    return [unpack(i).metadata.name for i in resp.items]


async def test_label_selectors(api) -> None:
    await create(api.stub, pod("a", labels={"app": "web", "tier": "front"}))
    await create(api.stub, pod("b", labels={"app": "web", "tier": "db"}))
    await create(api.stub, pod("c", labels={"app": "api"}))
    last = await create(api.stub, pod("d", labels={"legacy": "true"}))
    assert await names(api, label_selector="app=web") == ["a", "b"]
    assert await names(api, label_selector="app==web,tier!=db") == ["a"]
    assert await names(api, label_selector="app in (web,api)") == ["a", "b", "c"]
    assert await names(api, label_selector="app notin (web)") == ["c", "d"]
    assert await names(api, label_selector="tier") == ["a", "b"]
    assert await names(api, label_selector="!legacy") == ["a", "b", "c"]
    await cache_caught_up(api, "pods", last.metadata.resource_version)
    assert await names(api, label_selector="app=web", resource_version="0") == ["a", "b"]


async def test_field_selectors(api) -> None:
    await create(api.stub, pod("n1", node="node-1"))
    await create(api.stub, pod("n2", node="node-2"))
    last = await create(api.stub, pod("n3"))
    assert await names(api, field_selector="spec.nodeName=node-1") == ["n1"]
    assert await names(api, field_selector="spec.nodeName=") == ["n3"]
    assert await names(api, field_selector="metadata.name!=n1,status.phase=Pending") == ["n2", "n3"]
    await cache_caught_up(api, "pods", last.metadata.resource_version)
    assert await names(api, field_selector="metadata.namespace=default", resource_version="0") == [
        "n1",
        "n2",
        "n3",
    ]
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, names(api, field_selector="spec.image=x"))
    assert "spec.image" in err.message


async def test_namespaced_and_all_namespaces(api) -> None:
    await create(api.stub, pod("x1"))
    await create(api.stub, pod("x2", namespace="kube-system"))
    assert await names(api, namespace="default") == ["x1"]
    assert await names(api) == ["x1", "x2"]


async def test_pagination_reads_one_snapshot(api) -> None:
    created = [f"p{i:02d}" for i in range(7)]
    for n in created:
        await create(api.stub, pod(n))
    first = await api.stub.List(pb.ListRequest(resource="pods", limit=3))
    assert [unpack(i).metadata.name for i in first.items] == created[:3]
    assert first.metadata.continue_token
    # changes after the first page must not show up in the following pages
    await create(api.stub, pod("p99"))
    await api.stub.Delete(pb.DeleteRequest(resource="pods", namespace="default", name="p05"))
    seen = [unpack(i).metadata.name for i in first.items]
    token = first.metadata.continue_token
    while token:
        page = await api.stub.List(pb.ListRequest(resource="pods", limit=3, continue_token=token))
        assert page.metadata.resource_version == first.metadata.resource_version
        seen += [unpack(i).metadata.name for i in page.items]
        token = page.metadata.continue_token
    assert seen == created
    latest = await names(api)
    assert "p99" in latest and "p05" not in latest


async def test_pagination_with_selector_fills_pages(api) -> None:
    for i in range(10):
        await create(api.stub, pod(f"s{i}", labels={"even": str(i % 2 == 0).lower()}))
    page = await api.stub.List(pb.ListRequest(resource="pods", limit=2, label_selector="even=true"))
    assert [unpack(i).metadata.name for i in page.items] == ["s0", "s2"]
    page2 = await api.stub.List(
        pb.ListRequest(
            resource="pods", limit=10, label_selector="even=true", continue_token=page.metadata.continue_token
        )
    )
    assert [unpack(i).metadata.name for i in page2.items] == ["s4", "s6", "s8"]
    assert not page2.metadata.continue_token


async def test_bad_continue_token_and_limit(api) -> None:
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, names(api, continue_token="garbage!"))
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, names(api, limit=-1))


async def test_expired_continue_token(api) -> None:
    for i in range(3):
        await create(api.stub, pod(f"c{i}"))
    first = await api.stub.List(pb.ListRequest(resource="pods", limit=1))
    rev = await api.app.client.current_revision()
    await create(api.stub, pod("c9"))
    await api.app.client.compact(rev + 1)
    err = await expect_error(
        grpc.StatusCode.OUT_OF_RANGE,
        api.stub.List(pb.ListRequest(resource="pods", limit=1, continue_token=first.metadata.continue_token)),
    )
    assert "too old to display a consistent list result" in err.message
    # As in Kubernetes, the 410 carries a token to go on from the same key at the latest revision.
    rest = await api.stub.List(pb.ListRequest(resource="pods", limit=10, continue_token=err.metadata["continue"]))
    assert [unpack(i).metadata.name for i in rest.items] == ["c1", "c2", "c9"]
    assert int(rest.metadata.resource_version) > rev and not rest.metadata.continue_token


async def test_list_at_exact_revision(api) -> None:
    a = await create(api.stub, pod("v1"))
    await create(api.stub, pod("v2"))
    assert await names(api, resource_version=a.metadata.resource_version) == ["v1"]
    resp = await api.stub.List(pb.ListRequest(resource="pods"))
    assert int(resp.metadata.resource_version) >= int(a.metadata.resource_version)
