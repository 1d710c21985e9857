"""Patch: JSON merge patch and JSON patch on the Kubernetes JSON form, status subresource, re-validation."""

from __future__ import annotations

import json

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pod, uniq, unpack
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.registry.patch import merge_patch

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"


def patch(api, name, body, ptype=MERGE, resource="pods", **kw):
    return api.stub.Patch(
        pb.PatchRequest(
            resource=resource,
            namespace="default",
            name=name,
            patch_type=ptype,
            patch=json.dumps(body).encode(),
            **kw,
        )
    )


@pytest.mark.parametrize(("target", "patch_doc", "result"), [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
])  # fmt: skip
def test_merge_patch_rfc7386_examples(target, patch_doc, result) -> None:
    assert merge_patch(target, patch_doc) == result


async def test_merge_patch_labels(api) -> None:
    p = await create(api.stub, pod(uniq("mp"), labels={"a": "1", "b": "2"}))
    out = unpack((await patch(api, p.metadata.name, {"metadata": {"labels": {"a": None, "c": "3"}}})).object)
    assert dict(out.metadata.labels) == {"b": "2", "c": "3"}
    assert int(out.metadata.resource_version) > int(p.metadata.resource_version)


async def test_json_patch(api) -> None:
    p = await create(api.stub, pod(uniq("jp")))
    ops = [
        {"op": "replace", "path": "/spec/containers/0/image", "value": "busybox:2"},
        {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}},
    ]
    out = unpack((await patch(api, p.metadata.name, ops, JSON)).object)
    assert out.spec.containers[0].image == "busybox:2" and out.metadata.labels["k"] == "v"
    assert out.metadata.generation == 2


async def test_json_patch_test_op_failure_is_invalid_argument(api) -> None:
    p = await create(api.stub, pod(uniq("jpt")))
    ops = [{"op": "test", "path": "/spec/containers/0/image", "value": "nope"}]
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, patch(api, p.metadata.name, ops, JSON))


async def test_patch_that_breaks_validation_fails_with_field_path(api) -> None:
    p = await create(api.stub, pod(uniq("bad")))
    err = await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        patch(api, p.metadata.name, {"spec": {"containers": [{"name": "main", "image": ""}]}}),
    )
    assert any(e.path == "spec.containers[0].image" and e.reason == "Required value" for e in err.errors), err


async def test_patch_status_subresource(api) -> None:
    p = await create(api.stub, pod(uniq("ps")))
    out = unpack(
        (
            await patch(
                api,
                p.metadata.name,
                {"status": {"phase": "Running"}, "metadata": {"labels": {"ignored": "yes"}}},
                subresource="status",
            )
        ).object
    )
    assert out.status.phase == "Running" and "ignored" not in out.metadata.labels
    # a plain patch of status is ignored
    out2 = unpack((await patch(api, p.metadata.name, {"status": {"phase": "Failed"}})).object)
    assert out2.status.phase == "Running"


async def test_patch_with_stale_resource_version_conflicts(api) -> None:
    p = await create(api.stub, pod(uniq("prv")))
    await patch(api, p.metadata.name, {"metadata": {"labels": {"x": "1"}}})
    await expect_error(
        grpc.StatusCode.ABORTED,
        patch(
            api,
            p.metadata.name,
            {"metadata": {"resourceVersion": p.metadata.resource_version, "labels": {"x": "2"}}},
        ),
    )


async def test_patch_errors(api) -> None:
    p = await create(api.stub, pod(uniq("pe")))
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, patch(api, p.metadata.name, {}, "text/plain"))
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.Patch(
            pb.PatchRequest(
                resource="pods",
                namespace="default",
                name=p.metadata.name,
                patch_type=MERGE,
                patch=b"{not json",
            )
        ),
    )
    await expect_error(grpc.StatusCode.NOT_FOUND, patch(api, "missing", {"metadata": {}}))
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, patch(api, p.metadata.name, {"spec": {"bogusField": 1}}))
    got = await get(api.stub, "pods", p.metadata.name)
    assert got.metadata.resource_version == p.metadata.resource_version
