"""Fallback kinds registry (same API as skiff_common.apimachinery.kinds)."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import any_pb2
from google.protobuf.message import Message
from skiff.api.apps.v1 import apps_pb2
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.batch.v1 import batch_pb2
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import config_pb2, event_pb2, namespace_pb2, node_pb2, pod_pb2, service_pb2
from skiff_common import errors


@dataclass(frozen=True)
class KindInfo:
    kind: str
    api_version: str
    resource: str
    singular: str
    namespaced: bool
    message: type[Message]
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()


ALL_KINDS: tuple[KindInfo, ...] = (
    KindInfo("Pod", "v1", "pods", "pod", True, pod_pb2.Pod, ("po",), ("status", "binding")),
    KindInfo("Node", "v1", "nodes", "node", False, node_pb2.Node, ("no",), ("status",)),
    KindInfo("Namespace", "v1", "namespaces", "namespace", False, namespace_pb2.Namespace, ("ns",), ("status",)),
    KindInfo("Service", "v1", "services", "service", True, service_pb2.Service, ("svc",), ("status",)),
    KindInfo("Endpoints", "v1", "endpoints", "endpoints", True, service_pb2.Endpoints, ("ep",)),
    KindInfo("Secret", "v1", "secrets", "secret", True, config_pb2.Secret),
    KindInfo("ConfigMap", "v1", "configmaps", "configmap", True, config_pb2.ConfigMap, ("cm",)),
    KindInfo("Event", "v1", "events", "event", True, event_pb2.Event, ("ev",)),
    KindInfo("Lease", "coordination.k8s.io/v1", "leases", "lease", True, lease_pb2.Lease),
    KindInfo("Deployment", "apps/v1", "deployments", "deployment", True, apps_pb2.Deployment, ("deploy",),
             ("status", "scale")),
    KindInfo("ReplicaSet", "apps/v1", "replicasets", "replicaset", True, apps_pb2.ReplicaSet, ("rs",),
             ("status", "scale")),
    KindInfo("DaemonSet", "apps/v1", "daemonsets", "daemonset", True, apps_pb2.DaemonSet, ("ds",), ("status",)),
    KindInfo("Job", "batch/v1", "jobs", "job", True, batch_pb2.Job, (), ("status",)),
    KindInfo("CronJob", "batch/v1", "cronjobs", "cronjob", True, batch_pb2.CronJob, ("cj",), ("status",)),
    KindInfo("HorizontalPodAutoscaler", "autoscaling/v2", "horizontalpodautoscalers",
             "horizontalpodautoscaler", True, hpa_pb2.HorizontalPodAutoscaler, ("hpa",), ("status",)),
)  # fmt: skip

_BY_NAME: dict[str, KindInfo] = {}
for _info in ALL_KINDS:
    for _n in (_info.resource, _info.singular, _info.kind, *_info.short_names):
        _BY_NAME.setdefault(_n.lower(), _info)
_BY_MESSAGE = {info.message.DESCRIPTOR.full_name: info for info in ALL_KINDS}


def lookup_resource(name: str) -> KindInfo:
    info = _BY_NAME.get(name.lower())
    if info is None:
        raise errors.NotFound(f'the server doesn\'t have a resource type "{name}"')
    return info


def lookup_kind(api_version: str, kind: str) -> KindInfo:
    for info in ALL_KINDS:
        if info.kind == kind:
            if info.api_version != api_version:
                raise errors.Invalid(
                    f"no kind {kind!r} in apiVersion {api_version!r}",
                    [errors.FieldError("apiVersion", "Invalid value", f"{kind} is served as {info.api_version}")],
                )
            return info
    raise errors.Invalid(f"unknown kind {kind!r}", [errors.FieldError("kind", "Unsupported value", kind)])


def kind_of(msg: Message | type[Message]) -> KindInfo:
    info = _BY_MESSAGE.get(msg.DESCRIPTOR.full_name)
    if info is None:
        raise errors.BadRequest(f"{msg.DESCRIPTOR.full_name} is not an API kind")
    return info


def pack(obj: Message) -> any_pb2.Any:
    out = any_pb2.Any()
    out.Pack(obj)
    return out


def unpack(a: any_pb2.Any) -> Message:
    full_name = a.type_url.rsplit("/", 1)[-1]
    info = _BY_MESSAGE.get(full_name)
    if info is None:
        raise errors.BadRequest(f"unknown object type {a.type_url!r}")
    msg = info.message()
    if not a.Unpack(msg):
        raise errors.BadRequest(f"cannot decode object of type {a.type_url!r}")
    return msg


def set_type_meta(obj: Message) -> Message:
    info = kind_of(obj)
    obj.api_version = info.api_version  # type: ignore[attr-defined]
    obj.kind = info.kind  # type: ignore[attr-defined]
    return obj
