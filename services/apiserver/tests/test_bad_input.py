"""Bad input found by probing, answered with a clear error instead of INTERNAL or wrong data: patches and
bodies nested 100,000 levels deep, huge selectors, resourceVersions that are not numbers, negative, or in
the future."""

from __future__ import annotations

import time

import grpc
from apiserver_testlib import create, expect_error, pod, uniq
from skiff.apiserver.v1 import apiserver_pb2 as pb

DEEP = 100_000


async def test_deep_patches_are_refused(api) -> None:
    name = uniq("p")
    await create(api.stub, pod(name))
    merge = ('{"metadata":{"labels":' + '{"a":' * DEEP + "1" + "}" * DEEP + "}}").encode()
    json_patch = ('[{"op":"add","path":"/metadata/labels/x","value":' + "[" * DEEP + "]" * DEEP + "}]").encode()
    moderately = ('{"metadata":{"annotations":{"a":' + '{"b":' * 300 + "1" + "}" * 300 + "}}}").encode()
    for kind, body in (("merge", merge), ("json", json_patch), ("merge", moderately)):
        err = await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            api.stub.Patch(
                pb.PatchRequest(resource="pods", namespace="default", name=name, patch_type=kind, patch=body)
            ),
        )
        assert "the patch is nested too deeply (more than 200 levels)" in err.message


async def test_huge_selectors_are_refused_quickly(api) -> None:
    selector = "a in (" + ",".join(f"v{i}" for i in range(100_000)) + ")"
    started = time.perf_counter()
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT, api.stub.List(pb.ListRequest(resource="pods", label_selector=selector))
    )
    assert err.message.startswith("labelSelector: too long (")
    assert time.perf_counter() - started < 5  # a bound on a failing test only: no parse of 800 KB happened
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.Watch(pb.WatchRequest(resource="pods", field_selector="metadata.name=" + "x" * 20_000)).read(),
    )


async def test_resource_versions_are_checked(api) -> None:
    name = uniq("p")
    created = await create(api.stub, pod(name))
    for rv in ("abc", "-1", "1.5"):
        err = await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            api.stub.Get(pb.GetRequest(resource="pods", namespace="default", name=name, resource_version=rv)),
        )
        assert err.message == f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer'
        await expect_error(
            grpc.StatusCode.INVALID_ARGUMENT,
            api.stub.List(pb.ListRequest(resource="pods", namespace="default", resource_version=rv)),
        )
    future = str(int(created.metadata.resource_version) + 1_000_000)
    err = await expect_error(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        api.stub.Get(pb.GetRequest(resource="pods", namespace="default", name=name, resource_version=future)),
    )
    assert err.message.startswith(f"Too large resource version: {future}, current: ")
    err = await expect_error(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        api.stub.List(pb.ListRequest(resource="pods", namespace="default", resource_version=future)),
    )
    assert "Too large resource version" in err.message
    err = await expect_error(
        grpc.StatusCode.DEADLINE_EXCEEDED,
        api.stub.Watch(pb.WatchRequest(resource="pods", resource_version=future)).read(),
    )
    assert "Too large resource version" in err.message
    # a past one that is still served reads the latest object
    got = await api.stub.Get(
        pb.GetRequest(
            resource="pods", namespace="default", name=name, resource_version=created.metadata.resource_version
        )
    )
    assert got.object.value


async def test_watch_from_a_revision_another_resource_reached(api) -> None:
    """An informer lists one resource and watches from the list's revision, which a write to another
    resource may have moved past this resource's last event: that is not 'too large'."""
    from skiff.api.core.v1 import config_pb2

    cm = config_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = uniq("cm"), "default"
    made = await create(api.stub, cm)
    rev = made.metadata.resource_version
    assert int(rev) > api.app.caches["pods"].revision
    call = api.stub.Watch(
        pb.WatchRequest(resource="pods", namespace="default", resource_version=rev, timeout_seconds=4)
    )
    assert await call.read() is grpc.aio.EOF  # ends quietly at timeoutSeconds: no event, no error
    assert await call.code() == grpc.StatusCode.OK
