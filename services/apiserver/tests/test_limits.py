"""Overload protection, deadlines, metrics, and several replicas behaving as one."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import WatchStream, create, expect_error, get, pack, pod, uniq
from prometheus_client import REGISTRY
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.admission.limits import Limits
from skiff_apiserver.storage import deadline
from skiff_common import errors


def test_inflight_cap() -> None:
    limits = Limits(max_inflight=1, rate_per_client=0, burst=1)
    with limits.admit("a"):
        with pytest.raises(errors.TooManyRequests), limits.admit("b"):
            pass
    with limits.admit("b"):
        pass


def test_token_bucket_per_client() -> None:
    limits = Limits(max_inflight=0, rate_per_client=0.001, burst=2)
    for _ in range(2):
        with limits.admit("a"):
            pass
    with pytest.raises(errors.TooManyRequests, match="rate limit"), limits.admit("a"):
        pass
    with limits.admit("b"):  # another client has its own bucket
        pass


def test_expired_deadline_stops_before_etcd() -> None:
    deadline.set_deadline(-1.0)
    try:
        with pytest.raises(errors.Timeout):
            deadline.remaining(10.0)
    finally:
        deadline.set_deadline(None)
    assert deadline.remaining(10.0) == 10.0


async def test_rate_limited_client_gets_resource_exhausted(server_factory) -> None:
    api = await server_factory(client_qps=0.001, client_burst=3)
    for _ in range(3):
        await api.stub.ListResources(pb.ListResourcesRequest())
    err = await expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, api.stub.ListResources(pb.ListResourcesRequest()))
    assert "rate limit" in err.message


async def test_metrics_count_requests_by_verb_resource_code(api) -> None:
    await create(api.stub, pod(uniq("m")))
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", "nope"))
    ok = REGISTRY.get_sample_value(
        "skiff_apiserver_requests_total", {"verb": "create", "resource": "pods", "code": "OK"}
    )
    nf = REGISTRY.get_sample_value(
        "skiff_apiserver_requests_total", {"verb": "get", "resource": "pods", "code": "NOT_FOUND"}
    )
    assert ok and ok >= 1 and nf and nf >= 1
    assert REGISTRY.get_sample_value("skiff_apiserver_etcd_request_duration_seconds_count", {"operation": "create"})
    assert REGISTRY.get_sample_value("skiff_apiserver_storage_objects", {"resource": "namespaces"}) is not None


async def test_two_replicas_behave_as_one(server_factory) -> None:
    a = await server_factory()
    b = await server_factory()  # same etcd prefix as `a`
    w = WatchStream(b.stub, resource="pods", resource_version="0")
    p = await create(a.stub, pod(uniq("rep")))
    etype, obj = await w.next()
    assert etype == "ADDED" and obj.metadata.uid == p.metadata.uid
    got = await get(b.stub, "pods", p.metadata.name)
    got.metadata.labels["by"] = "b"
    await b.stub.Update(pb.UpdateRequest(object=pack(got)))
    p.metadata.labels["by"] = "a"  # stale on replica a
    await expect_error(grpc.StatusCode.ABORTED, a.stub.Update(pb.UpdateRequest(object=pack(p))))
    await expect_error(grpc.StatusCode.ALREADY_EXISTS, create(b.stub, pod(p.metadata.name)))
    w.cancel()
