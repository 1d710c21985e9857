"""Overload protection, deadlines, metrics, and several replicas behaving as one."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import WatchStream, create, expect_error, get, pack, pod, uniq
from prometheus_client import REGISTRY
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.admission.flowcontrol import Level, level_of
from skiff_apiserver.admission.limits import Limits
from skiff_apiserver.auth.user import UserInfo
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


def test_system_components_have_their_own_pool_and_masters_are_exempt() -> None:
    limits = Limits(max_inflight=1, rate_per_client=0.001, burst=1)
    with limits.admit("user"):  # the workload pool is full...
        with pytest.raises(errors.TooManyRequests), limits.admit("other"):
            pass
        with limits.admit("cn:system:kube-scheduler", Level.SYSTEM):  # ...the system pool is not
            with pytest.raises(errors.TooManyRequests), limits.admit("cn:system:node:a", Level.SYSTEM):
                pass
            with limits.admit("cn:kubernetes-admin", Level.EXEMPT):  # nor is anything for system:masters
                pass
    for _ in range(3):  # no token bucket for the system level
        with limits.admit("cn:system:kube-scheduler", Level.SYSTEM):
            pass
    assert (limits.inflight, limits.system_inflight) == (0, 0)


@pytest.mark.parametrize(
    ("user", "level"),
    [
        (UserInfo("kubernetes-admin", ("system:masters", "system:authenticated")), Level.EXEMPT),
        (UserInfo("system:node:n1", ("system:nodes", "system:authenticated")), Level.SYSTEM),
        (UserInfo("system:kube-controller-manager"), Level.SYSTEM),
        (UserInfo("system:serviceaccount:kube-system:replicaset-controller"), Level.SYSTEM),
        (UserInfo("system:serviceaccount:default:default", ("system:serviceaccounts",)), Level.WORKLOAD),
        (UserInfo("jane", ("dev",)), Level.WORKLOAD),
        (UserInfo("system:unsecured", ("system:masters",)), Level.WORKLOAD),
        (None, Level.WORKLOAD),
    ],
)
def test_priority_levels_follow_apfs_default_flowschemas(user: UserInfo | None, level: Level) -> None:
    assert level_of(user) is level


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


async def test_metrics_use_kube_apiservers_names_and_labels(api) -> None:
    """Kubernetes' dashboards and alerts query these series: names, verbs and HTTP codes as kube-apiserver's."""
    await create(api.stub, pod(uniq("m")))
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", "nope"))
    common = {
        "dry_run": "",
        "group": "",
        "version": "v1",
        "resource": "pods",
        "subresource": "",
        "component": "apiserver",
    }
    created = REGISTRY.get_sample_value(
        "apiserver_request_total", {**common, "verb": "POST", "scope": "namespace", "code": "201"}
    )
    missing = REGISTRY.get_sample_value(
        "apiserver_request_total", {**common, "verb": "GET", "scope": "resource", "code": "404"}
    )
    assert created and created >= 1 and missing and missing >= 1
    assert REGISTRY.get_sample_value(
        "apiserver_request_duration_seconds_count", {**common, "verb": "POST", "scope": "namespace"}
    )
    assert REGISTRY.get_sample_value("etcd_request_duration_seconds_count", {"operation": "create", "type": ""})
    assert REGISTRY.get_sample_value("apiserver_storage_objects", {"resource": "namespaces"}) is not None


def test_request_labels_translate_the_apiservers_own_verbs() -> None:
    from skiff_apiserver.metrics import http_code, request_labels

    assert request_labels("update_status", "deployments") == (
        "PUT",
        "",
        "apps",
        "v1",
        "deployments",
        "status",
        "resource",
        "apiserver",
    )
    assert request_labels("rest_list", "nodes")[0::6] == ("LIST", "cluster")
    assert request_labels("rest_patch", "pods/status")[4:6] == ("pods", "status")
    assert request_labels("watch", "nosuchthings")[4] == "nosuchthings"
    assert (http_code("create", "OK"), http_code("rest_get", ""), http_code("patch", "Invalid")) == (
        "201",
        "200",
        "422",
    )
    assert http_code("get", "PERMISSION_DENIED") == "403" and http_code("get", "SomethingNew") == "500"


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


async def test_clients_count_their_apiserver_calls_as_client_go_does(api) -> None:
    """Every component's channel records rest_client_requests_total{code,host,method} for its API calls."""
    from skiff.apiserver.v1 import apiserver_pb2_grpc
    from skiff_common.grpcutil.channel import create_channel

    channel = create_channel(api.target)
    try:
        stub = apiserver_pb2_grpc.ApiServerStub(channel)
        await create(stub, pod(uniq("rc")))
        await expect_error(grpc.StatusCode.NOT_FOUND, get(stub, "pods", "nope"))
    finally:
        await channel.close()
    created = REGISTRY.get_sample_value(
        "rest_client_requests_total", {"code": "201", "host": api.target, "method": "POST"}
    )
    missing = REGISTRY.get_sample_value(
        "rest_client_requests_total", {"code": "404", "host": api.target, "method": "GET"}
    )
    assert created == 1 and missing == 1
    assert (
        REGISTRY.get_sample_value("rest_client_request_duration_seconds_count", {"host": api.target, "verb": "POST"})
        == 1
    )
