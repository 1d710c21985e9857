"""The kind registry: name resolution, type meta, Any packing."""

from __future__ import annotations

import pytest
from google.protobuf import any_pb2
from skiff.api.apps.v1 import apps_pb2
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors
from skiff_common.apimachinery import kinds


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("pods", "Pod"),
        ("pod", "Pod"),
        ("po", "Pod"),
        ("Pod", "Pod"),
        ("PODS", "Pod"),
        ("deploy", "Deployment"),
        ("deployments.apps", "Deployment"),
        ("deploy.apps", "Deployment"),
        ("hpa", "HorizontalPodAutoscaler"),
        ("horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        ("leases.coordination.k8s.io", "Lease"),
        ("endpointslices.discovery.k8s.io", "EndpointSlice"),
        ("ns", "Namespace"),
        ("svc", "Service"),
        ("ep", "Endpoints"),
        ("cm", "ConfigMap"),
        ("cj", "CronJob"),
        ("rs", "ReplicaSet"),
        ("ds", "DaemonSet"),
        ("no", "Node"),
        ("ev", "Event"),
        ("jobs", "Job"),
        ("secret", "Secret"),
        ("quota", "ResourceQuota"),
        ("resourcequotas", "ResourceQuota"),
        ("limits", "LimitRange"),
        ("limitrange", "LimitRange"),
    ],
)
def test_lookup_resource(name: str, kind: str) -> None:
    assert kinds.lookup_resource(name).kind == kind


@pytest.mark.parametrize("name", ["widgets", "", "pods.apps", "deployments.batch"])
def test_lookup_resource_unknown(name: str) -> None:
    with pytest.raises(errors.NotFound, match=f'the server doesn\'t have a resource type "{name}"'):
        kinds.lookup_resource(name)


def test_registry_is_consistent() -> None:
    seen: set[str] = set()
    for info in kinds.ALL_KINDS:
        fields = info.message.DESCRIPTOR.fields
        assert [f.name for f in fields[:3]] == ["api_version", "kind", "metadata"]
        assert info.resource not in seen
        seen.add(info.resource)
        assert kinds.lookup_kind(info.api_version, info.kind) is info
        assert kinds.kind_of(info.message) is info and kinds.kind_of(info.message()) is info
    assert len(kinds.ALL_KINDS) == 26
    assert kinds.lookup_resource("deploy").group == "apps"
    assert kinds.lookup_resource("pods").group == ""
    assert kinds.lookup_resource("pods").subresources == ("status", "binding")
    assert not kinds.lookup_resource("nodes").namespaced


def test_lookup_kind_errors() -> None:
    with pytest.raises(errors.Invalid) as info:
        kinds.lookup_kind("", "")
    assert [e.path for e in info.value.errors] == ["apiVersion", "kind"]


def test_set_type_meta_and_non_resources() -> None:
    pod = kinds.set_type_meta(pod_pb2.Pod())
    assert (pod.api_version, pod.kind) == ("v1", "Pod")  # type: ignore[attr-defined]
    scale = kinds.set_type_meta(scale_pb2.Scale())
    assert (scale.api_version, scale.kind) == ("autoscaling/v1", "Scale")  # type: ignore[attr-defined]
    assert kinds.message_for("v1", "Binding") is pod_pb2.Binding
    with pytest.raises(ValueError):
        kinds.kind_of(scale_pb2.Scale)
    with pytest.raises(ValueError):
        kinds.set_type_meta(meta_pb2.ObjectMeta())


def test_pack_unpack() -> None:
    dep = apps_pb2.Deployment(kind="Deployment")
    dep.metadata.name = "web"
    packed = kinds.pack(dep)
    assert packed.type_url == "type.googleapis.com/skiff.api.apps.v1.Deployment"
    assert kinds.unpack(packed) == dep
    assert kinds.unpack(kinds.pack(meta_pb2.Status(code=410))) == meta_pb2.Status(code=410)
    with pytest.raises(ValueError):
        kinds.pack(meta_pb2.ObjectMeta())


@pytest.mark.parametrize(
    ("envelope", "message"),
    [
        (any_pb2.Any(), "object is required"),
        (any_pb2.Any(type_url="type.googleapis.com/skiff.api.core.v1.Widget"), "unsupported object type"),
        (any_pb2.Any(type_url="type.googleapis.com/skiff.api.core.v1.Pod", value=b"\xff\xff"), "cannot decode"),
    ],
)
def test_unpack_errors(envelope: any_pb2.Any, message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        kinds.unpack(envelope)
