"""Delete: graceful pods, the kubelet's final delete, finalizers, propagationPolicy, preconditions."""

from __future__ import annotations

import grpc
from apiserver_testlib import WatchStream, create, expect_error, get, pack, pod, uniq, unpack
from skiff.api.core.v1 import config_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


def delete(api, name, resource="pods", namespace="default", **kw):
    return api.stub.Delete(pb.DeleteRequest(resource=resource, namespace=namespace, name=name, **kw))


async def test_unscheduled_pod_is_deleted_at_once(api) -> None:
    p = await create(api.stub, pod(uniq("unsched")))
    resp = await delete(api, p.metadata.name)
    assert unpack(resp.object).metadata.name == p.metadata.name
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", p.metadata.name))


async def test_scheduled_pod_deletion_is_graceful_until_kubelet_confirms(api) -> None:
    p = await create(api.stub, pod(uniq("grace"), node="node-1", grace=45))
    w = WatchStream(api.stub, resource="pods", resource_version=p.metadata.resource_version)
    out = unpack((await delete(api, p.metadata.name)).object)
    assert out.metadata.HasField("deletion_timestamp")
    assert out.metadata.deletion_grace_period_seconds == 45
    etype, obj = await w.next()
    assert etype == "MODIFIED" and obj.metadata.HasField("deletion_timestamp")
    still = await get(api.stub, "pods", p.metadata.name)
    assert still.metadata.deletion_grace_period_seconds == 45
    # Deleting again with a shorter grace shortens it; the kubelet's grace-0 delete removes the pod.
    again = unpack((await delete(api, p.metadata.name, grace_period_seconds=10)).object)
    assert again.metadata.deletion_grace_period_seconds == 10
    await delete(api, p.metadata.name, grace_period_seconds=0)
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", p.metadata.name))
    types = [t for t, _ in await w.take(2)]
    assert types == ["MODIFIED", "DELETED"]
    w.cancel()


async def test_pod_delete_uses_request_grace_then_spec_default(api) -> None:
    p = await create(api.stub, pod(uniq("g2"), node="node-1"))
    out = unpack((await delete(api, p.metadata.name, grace_period_seconds=5)).object)
    assert out.metadata.deletion_grace_period_seconds == 5
    q = await create(api.stub, pod(uniq("g3"), node="node-1"))
    out = unpack((await delete(api, q.metadata.name)).object)
    assert out.metadata.deletion_grace_period_seconds == 30


async def test_finalizers_hold_the_object_until_removed(api) -> None:
    cm = config_pb2.ConfigMap()
    cm.metadata.name = uniq("fin")
    cm.metadata.namespace = "default"
    cm.metadata.finalizers.append("example.com/hold")
    cm = await create(api.stub, cm)
    out = unpack((await delete(api, cm.metadata.name, resource="configmaps")).object)
    assert out.metadata.HasField("deletion_timestamp")
    held = await get(api.stub, "configmaps", cm.metadata.name)
    assert list(held.metadata.finalizers) == ["example.com/hold"]
    del held.metadata.finalizers[:]
    await api.stub.Update(pb.UpdateRequest(object=pack(held)))
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "configmaps", cm.metadata.name))


async def test_propagation_policy_is_recorded_as_finalizer(api) -> None:
    for policy, finalizer in (("Foreground", "foregroundDeletion"), ("Orphan", "orphan")):
        cm = config_pb2.ConfigMap()
        cm.metadata.name = uniq("prop")
        cm.metadata.namespace = "default"
        await create(api.stub, cm)
        out = unpack((await delete(api, cm.metadata.name, resource="configmaps", propagation_policy=policy)).object)
        assert finalizer in out.metadata.finalizers and out.metadata.HasField("deletion_timestamp")
    cm = config_pb2.ConfigMap()
    cm.metadata.name = uniq("bg")
    cm.metadata.namespace = "default"
    await create(api.stub, cm)
    await delete(api, cm.metadata.name, resource="configmaps", propagation_policy="Background")
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "configmaps", cm.metadata.name))
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        delete(api, "x", resource="configmaps", propagation_policy="Sometimes"),
    )
    assert "propagationPolicy" in err.message


async def test_delete_preconditions(api) -> None:
    p = await create(api.stub, pod(uniq("pre")))
    await expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        delete(api, p.metadata.name, preconditions=pb.Preconditions(uid="wrong")),
    )
    await expect_error(
        grpc.StatusCode.FAILED_PRECONDITION,
        delete(api, p.metadata.name, preconditions=pb.Preconditions(resource_version="1")),
    )
    await delete(
        api,
        p.metadata.name,
        preconditions=pb.Preconditions(uid=p.metadata.uid, resource_version=p.metadata.resource_version),
    )
    await expect_error(grpc.StatusCode.NOT_FOUND, delete(api, p.metadata.name))


async def test_delete_dry_run_keeps_object(api) -> None:
    p = await create(api.stub, pod(uniq("dry")))
    await delete(api, p.metadata.name, dry_run=True)
    await get(api.stub, "pods", p.metadata.name)
