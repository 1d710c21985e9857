"""Namespace lifecycle in the apiserver: Terminating on delete, creates refused (NamespaceLifecycle), the
"kubernetes" spec finalizer kept by plain updates and removed through the finalize subresource, which
removes the namespace. Emptying it is the controllers' namespace controller's job (tested there)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pack, pod, uniq
from skiff.api.core.v1 import config_pb2, event_pb2, namespace_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def _namespace(api: Any, name: str) -> Any:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = name
    return await create(api.stub, ns)


def _finalize(name: str, finalizers: list[str]) -> pb.PatchRequest:
    return pb.PatchRequest(
        resource="namespaces",
        name=name,
        patch_type="application/merge-patch+json",
        patch=json.dumps({"spec": {"finalizers": finalizers}}).encode(),
        subresource="finalize",
    )


async def test_namespace_terminating_refuses_creates_and_waits_for_its_finalizer(api) -> None:
    name = uniq("ns")
    created = await _namespace(api, name)
    assert list(created.spec.finalizers) == ["kubernetes"] and created.status.phase == "Active"
    cm = config_pb2.ConfigMap()
    cm.metadata.name = "inside"
    cm.metadata.namespace = name
    await create(api.stub, cm)
    await create(api.stub, pod("running", namespace=name, node="node-1", grace=30))
    await api.stub.Delete(pb.DeleteRequest(resource="namespaces", name=name))
    terminating = await get(api.stub, "namespaces", name, namespace="")
    assert terminating.status.phase == "Terminating" and terminating.metadata.HasField("deletion_timestamp")
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
    # The apiserver empties nothing itself: the contents stay until the namespace controller acts.
    await asyncio.sleep(1.5)
    assert (await get(api.stub, "configmaps", "inside", namespace=name)).metadata.name == "inside"
    running = await get(api.stub, "pods", "running", namespace=name)
    assert not running.metadata.HasField("deletion_timestamp")
    # A plain update cannot drop the finalizer; the finalize subresource can, and that removes it.
    terminating.spec.ClearField("finalizers")
    kept = await api.stub.Update(pb.UpdateRequest(object=pack(terminating)))
    assert kept is not None
    assert list((await get(api.stub, "namespaces", name, namespace="")).spec.finalizers) == ["kubernetes"]
    await api.stub.Patch(_finalize(name, []))
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "namespaces", name, namespace=""))


async def test_finalize_of_an_active_namespace_keeps_it(api) -> None:
    name = uniq("ns")
    await _namespace(api, name)
    await api.stub.Patch(_finalize(name, []))
    ns = await get(api.stub, "namespaces", name, namespace="")
    assert list(ns.spec.finalizers) == [] and ns.status.phase == "Active"
    await api.stub.Delete(pb.DeleteRequest(resource="namespaces", name=name))  # nothing holds it: gone at once
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "namespaces", name, namespace=""))


async def test_create_in_missing_namespace_is_not_found(api) -> None:
    cm = config_pb2.ConfigMap()
    cm.metadata.name = "x"
    cm.metadata.namespace = uniq("missing")
    err = await expect_error(grpc.StatusCode.NOT_FOUND, create(api.stub, cm))
    assert "not found" in err.message


async def test_namespace_name_must_be_dns_label(api) -> None:
    ns = namespace_pb2.Namespace()
    ns.metadata.name = "Bad.Name"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, ns))
    assert err.errors[0].path == "metadata.name"


@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
async def test_system_namespaces_may_not_be_deleted(api, name: str) -> None:
    err = await expect_error(
        grpc.StatusCode.PERMISSION_DENIED, api.stub.Delete(pb.DeleteRequest(resource="namespaces", name=name))
    )
    assert "may not be deleted" in err.message
    assert (await get(api.stub, "namespaces", name, namespace="")).status.phase == "Active"
