"""Create, Get, List, Update, UpdateStatus: metadata, concurrency, every kind, error codes."""

from __future__ import annotations

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pack, pod, uniq, unpack
from google.protobuf import any_pb2
from skiff.api.core.v1 import config_pb2, event_pb2, namespace_pb2, node_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds
from skiff_common import errors


async def test_create_sets_metadata_and_defaults(api) -> None:
    p = await create(api.stub, pod(uniq("meta")))
    m = p.metadata
    assert m.uid and m.creation_timestamp.seconds > 0 and m.generation == 1
    assert int(m.resource_version) > 0
    assert p.api_version == "v1" and p.kind == "Pod"
    assert p.spec.restart_policy == "Always" and p.spec.termination_grace_period_seconds == 30
    assert p.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert p.status.phase == "Pending"


async def test_create_duplicate_is_already_exists(api) -> None:
    name = uniq("dup")
    await create(api.stub, pod(name))
    err = await expect_error(grpc.StatusCode.ALREADY_EXISTS, create(api.stub, pod(name)))
    assert isinstance(err, errors.AlreadyExists) and name in err.message


async def test_generate_name(api) -> None:
    p = pod("")
    p.metadata.generate_name = "gen-"
    a = await create(api.stub, p)
    b = await create(api.stub, p)
    assert a.metadata.name.startswith("gen-") and len(a.metadata.name) == len("gen-") + 5
    assert a.metadata.name != b.metadata.name


async def test_namespace_defaults_to_default(api) -> None:
    p = pod(uniq("nsdef"), namespace="")
    out = await create(api.stub, p)
    assert out.metadata.namespace == "default"


async def test_system_namespaces_exist(api) -> None:
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        ns = await get(api.stub, "namespaces", name, namespace="")
        assert ns.status.phase == "Active"


async def test_get_missing_is_not_found(api) -> None:
    err = await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", "nope"))
    assert 'pods "nope" not found' in err.message


async def test_unknown_resource_is_not_found(api) -> None:
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "widgets", "x"))


async def test_dry_run_does_not_persist(api) -> None:
    name = uniq("dry")
    out = unpack((await api.stub.Create(pb.CreateRequest(object=pack(pod(name)), dry_run=True))).object)
    assert out.metadata.name == name
    await expect_error(grpc.StatusCode.NOT_FOUND, get(api.stub, "pods", name))


async def test_update_bumps_generation_only_on_spec_change(api) -> None:
    cm_name = uniq("dep")
    p = await create(api.stub, pod(cm_name))
    # labels only: no generation bump
    p.metadata.labels["x"] = "y"
    p2 = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p)))).object)
    assert p2.metadata.generation == 1 and p2.metadata.labels["x"] == "y"
    assert int(p2.metadata.resource_version) > int(p.metadata.resource_version)
    # spec change (image is mutable): generation bump
    p2.spec.containers[0].image = "busybox:1.37"
    p3 = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p2)))).object)
    assert p3.metadata.generation == 2


async def test_update_with_stale_resource_version_is_aborted(api) -> None:
    p = await create(api.stub, pod(uniq("stale")))
    p.metadata.labels["a"] = "1"
    await api.stub.Update(pb.UpdateRequest(object=pack(p)))
    p.metadata.labels["a"] = "2"  # still carries the old resourceVersion
    err = await expect_error(grpc.StatusCode.ABORTED, api.stub.Update(pb.UpdateRequest(object=pack(p))))
    assert "the object has been modified" in err.message


async def test_update_without_resource_version_is_unconditional(api) -> None:
    p = await create(api.stub, pod(uniq("uncond")))
    await api.stub.Update(pb.UpdateRequest(object=pack(p)))
    p.metadata.resource_version = ""
    p.metadata.labels["b"] = "2"
    out = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p)))).object)
    assert out.metadata.labels["b"] == "2"


async def test_update_missing_is_not_found(api) -> None:
    await expect_error(grpc.StatusCode.NOT_FOUND, api.stub.Update(pb.UpdateRequest(object=pack(pod("ghost")))))


async def test_update_ignores_status_and_update_status_ignores_spec(api) -> None:
    p = await create(api.stub, pod(uniq("st")))
    p.status.phase = "Running"
    p.metadata.labels["l"] = "v"
    out = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p)))).object)
    assert out.status.phase == "Pending" and out.metadata.labels["l"] == "v"
    out.status.phase = "Running"
    out.metadata.labels["l"] = "changed"
    out.spec.containers[0].image = "other:1"
    st = unpack((await api.stub.UpdateStatus(pb.UpdateStatusRequest(object=pack(out)))).object)
    assert st.status.phase == "Running"
    assert st.metadata.labels["l"] == "v" and st.spec.containers[0].image == "busybox:1.36"
    assert st.metadata.generation == 1


async def test_server_owned_metadata_survives_update(api) -> None:
    p = await create(api.stub, pod(uniq("own")))
    uid = p.metadata.uid
    p.metadata.creation_timestamp.seconds = 1
    p.metadata.generation = 99
    out = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p)))).object)
    assert out.metadata.uid == uid and out.metadata.creation_timestamp.seconds > 1
    assert out.metadata.generation == 1
    out.metadata.uid = "forged"  # a different uid names a different object: a conflict, not an overwrite
    await expect_error(grpc.StatusCode.ABORTED, api.stub.Update(pb.UpdateRequest(object=pack(out))))


@pytest.mark.parametrize("info", [k for k in kinds.ALL_KINDS], ids=lambda k: k.kind)
async def test_every_kind_round_trips_create_get_delete(api, info) -> None:
    obj = info.message()
    name = uniq(info.singular[:10])
    obj.metadata.name = name
    if info.namespaced:
        obj.metadata.namespace = "default"
    _fill_minimal(obj)
    created = await create(api.stub, obj)
    got = await get(api.stub, info.resource, name, "default" if info.namespaced else "")
    assert got.metadata.uid == created.metadata.uid
    listed = await api.stub.List(pb.ListRequest(resource=info.resource))
    assert name in {unpack(i).metadata.name for i in listed.items}
    await api.stub.Delete(
        pb.DeleteRequest(resource=info.resource, namespace=obj.metadata.namespace, name=name, grace_period_seconds=0)
    )
    if info.kind != "Namespace":
        await expect_error(
            grpc.StatusCode.NOT_FOUND,
            get(api.stub, info.resource, name, "default" if info.namespaced else ""),
        )


def _fill_minimal(obj) -> None:
    kind = obj.DESCRIPTOR.name
    if kind == "Pod":
        obj.spec.containers.add(name="c", image="busybox")
    elif kind == "Job":  # the selector is generated (manualSelector unset), as Kubernetes does
        obj.spec.template.spec.containers.add(name="c", image="busybox")
    elif kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        obj.spec.selector.match_labels["app"] = "x"
        obj.spec.template.metadata.labels["app"] = "x"
        obj.spec.template.spec.containers.add(name="c", image="busybox")
    elif kind == "CronJob":
        obj.spec.schedule = "*/5 * * * *"
        obj.spec.job_template.spec.template.spec.containers.add(name="c", image="busybox")
    elif kind == "Service":
        obj.spec.ports.add(port=80)
    elif kind == "EndpointSlice":
        obj.address_type = "IPv4"
    elif kind == "CertificateSigningRequest":
        from cryptography.hazmat.primitives.asymmetric import ec
        from skiff_common.pki.csr import KUBELET_CLIENT, make_request

        obj.spec.request = make_request(ec.generate_private_key(ec.SECP256R1()), "system:node:n", ["system:nodes"])
        obj.spec.signer_name = KUBELET_CLIENT

    elif kind in ("RoleBinding", "ClusterRoleBinding"):
        ref = obj.role_ref
        ref.api_group, ref.kind, ref.name = "rbac.authorization.k8s.io", "ClusterRole", "view"

    elif kind == "ControllerRevision":  # data is required (any JSON object)
        obj.data.update({"spec": {"template": {"$patch": "replace"}}})
        obj.revision = 1
    elif kind == "Event":
        obj.involved_object.kind = "Pod"
        obj.involved_object.name = "p"
        obj.reason = "Test"
        obj.message = "hello"


async def test_cluster_scoped_namespace_is_cleared(api) -> None:
    n = node_pb2.Node()
    n.metadata.name = uniq("node")
    n.metadata.namespace = "default"
    out = await create(api.stub, n)
    assert out.metadata.namespace == ""


async def test_create_in_missing_namespace_is_not_found(api) -> None:
    cm = config_pb2.ConfigMap()
    cm.metadata.name = "c"
    cm.metadata.namespace = uniq("nsmissing")
    err = await expect_error(grpc.StatusCode.NOT_FOUND, create(api.stub, cm))
    assert "namespaces" in err.message


async def test_any_with_unknown_type_is_invalid_argument(api) -> None:
    packed = any_pb2.Any()
    packed.Pack(namespace_pb2.NamespaceSpec())
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Create(pb.CreateRequest(object=packed)))
    await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Create(pb.CreateRequest()))


async def test_object_larger_than_limit_is_refused(api) -> None:
    ev = event_pb2.Event()  # an Event's message has no limit of its own: storage's is the one met
    ev.metadata.name = uniq("big")
    ev.metadata.namespace = "default"
    ev.involved_object.kind, ev.involved_object.name = "Pod", "p"
    ev.message = "x" * (1600 * 1024)
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, create(api.stub, ev))
    assert "limit" in err.message


async def test_list_resources_discovery(api) -> None:
    resp = await api.stub.ListResources(pb.ListResourcesRequest())
    by_name = {r.name: r for r in resp.resources}
    assert by_name["pods"].namespaced and "binding" in by_name["pods"].subresources
    assert by_name["deployments"].api_version == "apps/v1" and "scale" in by_name["deployments"].subresources
    assert not by_name["nodes"].namespaced
    assert "watch" in by_name["pods"].verbs
    assert len(by_name) == len(kinds.ALL_KINDS)


async def test_update_of_a_recreated_object_conflicts_on_uid(api) -> None:
    name = uniq("uid")
    old = await create(api.stub, pod(name))
    await api.stub.Delete(pb.DeleteRequest(resource="pods", namespace="default", name=name))
    await create(api.stub, pod(name))
    old.metadata.resource_version = ""
    err = await expect_error(grpc.StatusCode.ABORTED, api.stub.Update(pb.UpdateRequest(object=pack(old))))
    assert "UID" in err.message


async def test_no_new_finalizers_while_deleting(api) -> None:
    cm = config_pb2.ConfigMap()
    cm.metadata.name = uniq("nofin")
    cm.metadata.namespace = "default"
    cm.metadata.finalizers.append("a/hold")
    await create(api.stub, cm)
    await api.stub.Delete(pb.DeleteRequest(resource="configmaps", namespace="default", name=cm.metadata.name))
    held = await get(api.stub, "configmaps", cm.metadata.name)
    held.metadata.finalizers.append("b/more")
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(held))))
    assert err.errors[0].path == "metadata.finalizers"
