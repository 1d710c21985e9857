"""propagationPolicy finalizers are exclusive, as in Kubernetes' deletionFinalizersForGarbageCollection:
a later delete with an explicit policy replaces the GC finalizer the object carries, Background removes
both, and a delete without a policy keeps them; an object may not carry both."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, uniq, unpack
from skiff.api.core.v1 import config_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


def delete(api, name, **kw):  # type: ignore[no-untyped-def]
    return api.stub.Delete(pb.DeleteRequest(resource="configmaps", namespace="default", name=name, **kw))


async def held_configmap(api, finalizers=("example.com/hold",)) -> config_pb2.ConfigMap:  # type: ignore[no-untyped-def]
    cm = config_pb2.ConfigMap()
    cm.metadata.name = uniq("prop")
    cm.metadata.namespace = "default"
    cm.metadata.finalizers.extend(finalizers)
    return await create(api.stub, cm)


@pytest.mark.parametrize(
    ("first", "second", "after"),
    [
        ("Foreground", "Orphan", ["example.com/hold", "orphan"]),
        ("Orphan", "Foreground", ["example.com/hold", "foregroundDeletion"]),
        ("Foreground", "Background", ["example.com/hold"]),
        ("Orphan", "Background", ["example.com/hold"]),
        ("Foreground", "", ["example.com/hold", "foregroundDeletion"]),
        ("Orphan", "", ["example.com/hold", "orphan"]),
        ("Foreground", "Foreground", ["example.com/hold", "foregroundDeletion"]),
    ],
)
async def test_a_later_policy_replaces_the_earlier_one(api, first: str, second: str, after: list[str]) -> None:  # type: ignore[no-untyped-def]
    cm = await held_configmap(api)
    out = unpack((await delete(api, cm.metadata.name, propagation_policy=first)).object)
    assert out.metadata.HasField("deletion_timestamp")
    await delete(api, cm.metadata.name, propagation_policy=second)
    now = await get(api.stub, "configmaps", cm.metadata.name)
    assert list(now.metadata.finalizers) == after


async def test_background_on_a_waiting_foreground_deletion_finishes_it(api) -> None:  # type: ignore[no-untyped-def]
    cm = await held_configmap(api, finalizers=())
    await delete(api, cm.metadata.name, propagation_policy="Foreground")
    assert list((await get(api.stub, "configmaps", cm.metadata.name)).metadata.finalizers) == ["foregroundDeletion"]
    await delete(api, cm.metadata.name, propagation_policy="Background")  # nothing holds it any more
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "configmaps", cm.metadata.name))


async def test_both_gc_finalizers_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, held_configmap(api, finalizers=("orphan", "foregroundDeletion"))
    )
    assert [(e.path, e.reason) for e in err.errors] == [("metadata.finalizers", "Invalid value")]
    assert "cannot be both set" in err.errors[0].detail
