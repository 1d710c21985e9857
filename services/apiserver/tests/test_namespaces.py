"""Namespace lifecycle: Terminating on delete, creates refused, contents removed, then the namespace."""

from __future__ import annotations

import asyncio

import grpc
from apiserver_testlib import create, expect_error, get, pod, uniq
from skiff.api.core.v1 import config_pb2, event_pb2, namespace_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def test_namespace_terminating_refuses_creates_then_goes_away(api) -> None:
    name = uniq("ns")
    ns = namespace_pb2.Namespace()
    ns.metadata.name = name
    created = await create(api.stub, ns)
    assert list(created.spec.finalizers) == ["kubernetes"] and created.status.phase == "Active"
    cm = config_pb2.ConfigMap()
    cm.metadata.name = "inside"
    cm.metadata.namespace = name
    await create(api.stub, cm)
    await create(api.stub, pod("running", namespace=name, node="node-1", grace=30))
    await api.stub.Delete(pb.DeleteRequest(resource="namespaces", name=name))
    terminating = await get(api.stub, "namespaces", name, namespace="")
    assert terminating.status.phase == "Terminating"
    cm.metadata.name = "late"
    err = await expect_error(grpc.StatusCode.FAILED_PRECONDITION, create(api.stub, cm))
    assert "being terminated" in err.message
    ev = event_pb2.Event()  # events are still accepted while a namespace terminates
    ev.metadata.name = uniq("ev")
    ev.metadata.namespace = name
    ev.involved_object.kind = "Namespace"
    ev.involved_object.name = name
    ev.reason = "Terminating"
    await create(api.stub, ev)
    # the finalizer deletes the contents: the configmap at once, the pod gracefully
    for _ in range(100):
        try:
            await get(api.stub, "configmaps", "inside", namespace=name)
        except grpc.aio.AioRpcError:
            break
        await asyncio.sleep(0.1)
    running = await get(api.stub, "pods", "running", namespace=name)
    assert running.metadata.HasField("deletion_timestamp")
    await get(api.stub, "namespaces", name, namespace="")  # held while the pod is still terminating
    await api.stub.Delete(pb.DeleteRequest(resource="pods", namespace=name, name="running", grace_period_seconds=0))
    for _ in range(100):
        try:
            await get(api.stub, "namespaces", name, namespace="")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("namespace was never removed")


async def test_namespace_name_must_be_dns_label(api) -> None:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = "Bad.Name"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, ns))
    assert err.errors[0].path == "metadata.name"
