"""The one registry of API kinds: names, scope, message class and subresources.

Everything that maps between the names a user types (``deploy``, ``Deployment``, ``deployments.apps``),
the type meta in a manifest (``apiVersion: apps/v1``, ``kind: Deployment``), the protobuf message class
and the ``google.protobuf.Any`` type URL on the wire goes through this table, so adding a kind is one
line here plus its proto. Lookups are dictionaries built once at import time.

Besides the served resources (``ALL_KINDS``) a few non-resource messages have type meta of their own
(``Binding``, ``Scale``, ``Status``): ``set_type_meta``, ``pack`` and ``unpack`` know them too, but
``lookup_resource`` does not, because nobody can ``get`` them.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import any_pb2
from google.protobuf.message import DecodeError, Message
from skiff.api.apps.v1 import apps_pb2, controllerrevision_pb2
from skiff.api.authentication.v1 import authentication_pb2
from skiff.api.authorization.v1 import authorization_pb2
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.autoscaling.v2 import hpa_pb2
from skiff.api.batch.v1 import batch_pb2
from skiff.api.certificates.v1 import certificates_pb2
from skiff.api.coordination.v1 import lease_pb2
from skiff.api.core.v1 import (
    config_pb2,
    event_pb2,
    namespace_pb2,
    node_pb2,
    pod_pb2,
    quota_pb2,
    service_pb2,
    serviceaccount_pb2,
)
from skiff.api.discovery.v1 import endpointslice_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff.api.rbac.v1 import rbac_pb2
from skiff.api.scheduling.v1 import priorityclass_pb2

from skiff_common import errors

TYPE_URL_PREFIX = "type.googleapis.com/"


@dataclass(frozen=True)
class KindInfo:
    """One served resource type."""

    kind: str  # "Deployment"
    api_version: str  # "apps/v1" ("v1" for core)
    resource: str  # "deployments"
    singular: str  # "deployment"
    namespaced: bool
    message: type[Message]  # apps_pb2.Deployment
    short_names: tuple[str, ...] = ()  # ("deploy",)
    subresources: tuple[str, ...] = ()  # ("status", "scale")

    @property
    def group(self) -> str:
        """API group: "" for core, "apps", "coordination.k8s.io", ..."""
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def type_url(self) -> str:
        return TYPE_URL_PREFIX + self.message.DESCRIPTOR.full_name

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


ALL_KINDS: tuple[KindInfo, ...] = (
    KindInfo("Pod", "v1", "pods", "pod", True, pod_pb2.Pod, ("po",), ("status", "binding")),
    KindInfo("Node", "v1", "nodes", "node", False, node_pb2.Node, ("no",), ("status",)),
    KindInfo(
        "Namespace", "v1", "namespaces", "namespace", False, namespace_pb2.Namespace, ("ns",), ("status", "finalize")
    ),
    KindInfo("Service", "v1", "services", "service", True, service_pb2.Service, ("svc",), ("status",)),
    KindInfo("Endpoints", "v1", "endpoints", "endpoints", True, service_pb2.Endpoints, ("ep",)),
    KindInfo("Secret", "v1", "secrets", "secret", True, config_pb2.Secret),
    KindInfo("ConfigMap", "v1", "configmaps", "configmap", True, config_pb2.ConfigMap, ("cm",)),
    KindInfo("Event", "v1", "events", "event", True, event_pb2.Event, ("ev",)),
    KindInfo("Lease", "coordination.k8s.io/v1", "leases", "lease", True, lease_pb2.Lease),
    KindInfo(
        "EndpointSlice",
        "discovery.k8s.io/v1",
        "endpointslices",
        "endpointslice",
        True,
        endpointslice_pb2.EndpointSlice,
    ),
    KindInfo(
        "Deployment",
        "apps/v1",
        "deployments",
        "deployment",
        True,
        apps_pb2.Deployment,
        ("deploy",),
        ("status", "scale"),
    ),
    KindInfo(
        "ReplicaSet", "apps/v1", "replicasets", "replicaset", True, apps_pb2.ReplicaSet, ("rs",), ("status", "scale")
    ),
    KindInfo("DaemonSet", "apps/v1", "daemonsets", "daemonset", True, apps_pb2.DaemonSet, ("ds",), ("status",)),
    KindInfo(
        "ControllerRevision",
        "apps/v1",
        "controllerrevisions",
        "controllerrevision",
        True,
        controllerrevision_pb2.ControllerRevision,
    ),
    KindInfo("Job", "batch/v1", "jobs", "job", True, batch_pb2.Job, (), ("status",)),
    KindInfo("CronJob", "batch/v1", "cronjobs", "cronjob", True, batch_pb2.CronJob, ("cj",), ("status",)),
    KindInfo(
        "HorizontalPodAutoscaler",
        "autoscaling/v2",
        "horizontalpodautoscalers",
        "horizontalpodautoscaler",
        True,
        hpa_pb2.HorizontalPodAutoscaler,
        ("hpa",),
        ("status",),
    ),
    KindInfo(
        "CertificateSigningRequest",
        "certificates.k8s.io/v1",
        "certificatesigningrequests",
        "certificatesigningrequest",
        False,
        certificates_pb2.CertificateSigningRequest,
        ("csr",),
        ("status", "approval"),
    ),
    KindInfo(
        "PriorityClass",
        "scheduling.k8s.io/v1",
        "priorityclasses",
        "priorityclass",
        False,
        priorityclass_pb2.PriorityClass,
        ("pc",),
    ),
    KindInfo(
        "ServiceAccount", "v1", "serviceaccounts", "serviceaccount", True, serviceaccount_pb2.ServiceAccount, ("sa",)
    ),
    KindInfo("LimitRange", "v1", "limitranges", "limitrange", True, quota_pb2.LimitRange, ("limits",)),
    KindInfo(
        "ResourceQuota", "v1", "resourcequotas", "resourcequota", True, quota_pb2.ResourceQuota, ("quota",), ("status",)
    ),
    KindInfo("Role", "rbac.authorization.k8s.io/v1", "roles", "role", True, rbac_pb2.Role),
    KindInfo("ClusterRole", "rbac.authorization.k8s.io/v1", "clusterroles", "clusterrole", False, rbac_pb2.ClusterRole),
    KindInfo("RoleBinding", "rbac.authorization.k8s.io/v1", "rolebindings", "rolebinding", True, rbac_pb2.RoleBinding),
    KindInfo(
        "ClusterRoleBinding",
        "rbac.authorization.k8s.io/v1",
        "clusterrolebindings",
        "clusterrolebinding",
        False,
        rbac_pb2.ClusterRoleBinding,
    ),
)

# Messages with type meta that are not resources: (api_version, kind) by message full name.
_EXTRA_TYPES: tuple[tuple[type[Message], str, str], ...] = (
    (pod_pb2.Binding, "v1", "Binding"),
    (scale_pb2.Scale, "autoscaling/v1", "Scale"),
    (meta_pb2.Status, "v1", "Status"),
    # Access reviews: created and answered, never stored (authorization.k8s.io/v1).
    (authorization_pb2.SubjectAccessReview, "authorization.k8s.io/v1", "SubjectAccessReview"),
    (authorization_pb2.LocalSubjectAccessReview, "authorization.k8s.io/v1", "LocalSubjectAccessReview"),
    (authorization_pb2.SelfSubjectAccessReview, "authorization.k8s.io/v1", "SelfSubjectAccessReview"),
    (authorization_pb2.SelfSubjectRulesReview, "authorization.k8s.io/v1", "SelfSubjectRulesReview"),
    (authentication_pb2.TokenRequest, "authentication.k8s.io/v1", "TokenRequest"),
    (authentication_pb2.TokenReview, "authentication.k8s.io/v1", "TokenReview"),
    (authentication_pb2.SelfSubjectReview, "authentication.k8s.io/v1", "SelfSubjectReview"),
)


def _build_indexes() -> tuple[dict[str, KindInfo], dict[tuple[str, str], KindInfo], dict[str, KindInfo]]:
    by_name: dict[str, KindInfo] = {}
    by_type_meta: dict[tuple[str, str], KindInfo] = {}
    by_message: dict[str, KindInfo] = {}
    for info in ALL_KINDS:
        names = {info.resource, info.singular, info.kind, *info.short_names}
        for name in names:
            by_name[name.lower()] = info
            if info.group:  # kubectl also accepts "deployments.apps", "deploy.apps"
                by_name[f"{name}.{info.group}".lower()] = info
        by_type_meta[(info.api_version, info.kind)] = info
        by_message[info.message.DESCRIPTOR.full_name] = info
    return by_name, by_type_meta, by_message


_BY_NAME, _BY_TYPE_META, _BY_MESSAGE = _build_indexes()
_TYPE_META: dict[str, tuple[str, str]] = {full: (info.api_version, info.kind) for full, info in _BY_MESSAGE.items()} | {
    cls.DESCRIPTOR.full_name: (av, kind) for cls, av, kind in _EXTRA_TYPES
}
_CLASS_BY_FULL_NAME: dict[str, type[Message]] = {
    info.message.DESCRIPTOR.full_name: info.message for info in ALL_KINDS
} | {cls.DESCRIPTOR.full_name: cls for cls, _, _ in _EXTRA_TYPES}
_EXTRA_BY_TYPE_META: dict[tuple[str, str], type[Message]] = {(av, k): c for c, av, k in _EXTRA_TYPES}


def lookup_resource(name: str) -> KindInfo:
    """Resolve what a user typed: plural, singular, short name or Kind (case-insensitive), optionally
    qualified by the group ("deployments.apps")."""
    info = _BY_NAME.get(name.strip().lower())
    if info is None:
        raise errors.NotFound(f'the server doesn\'t have a resource type "{name}"')
    return info


def lookup_kind(api_version: str, kind: str) -> KindInfo:
    """Resolve type meta from a manifest; raise Invalid naming the bad field."""
    info = _BY_TYPE_META.get((api_version, kind))
    if info is not None:
        return info
    problems: list[errors.FieldError] = []
    if not api_version:
        problems.append(errors.FieldError("apiVersion", "Required value"))
    if not kind:
        problems.append(errors.FieldError("kind", "Required value"))
    if not problems:
        versions = sorted(i.api_version for i in ALL_KINDS if i.kind == kind)
        if versions:
            problems.append(
                errors.FieldError(
                    "apiVersion",
                    "Unsupported value",
                    f'"{api_version}": kind {kind} is served as {", ".join(versions)}',
                )
            )
        else:
            problems.append(
                errors.FieldError(
                    "kind", "Unsupported value", f'no matches for kind "{kind}" in version "{api_version}"'
                )
            )
    raise errors.Invalid("Object has an unknown type", problems)


def message_for(api_version: str, kind: str) -> type[Message]:
    """Like lookup_kind, but also knows the non-resource messages (Binding, Scale, Status)."""
    extra = _EXTRA_BY_TYPE_META.get((api_version, kind))
    return extra if extra is not None else lookup_kind(api_version, kind).message


def kind_of(msg: Message | type[Message]) -> KindInfo:
    """The KindInfo of a message instance or class; ValueError for a non-resource message."""
    info = _BY_MESSAGE.get(msg.DESCRIPTOR.full_name)
    if info is None:
        raise ValueError(f"{msg.DESCRIPTOR.full_name} is not a registered kind")
    return info


def type_meta_of(msg: Message | type[Message]) -> tuple[str, str] | None:
    """(apiVersion, kind) for any message that has type meta, else None."""
    return _TYPE_META.get(msg.DESCRIPTOR.full_name)


def set_type_meta(obj: Message) -> Message:
    """Fill api_version/kind from the registry (in place) and return the object."""
    meta = _TYPE_META.get(obj.DESCRIPTOR.full_name)
    if meta is None:
        raise ValueError(f"{obj.DESCRIPTOR.full_name} has no type meta")
    obj.api_version, obj.kind = meta  # type: ignore[attr-defined]
    return obj


def pack(obj: Message) -> any_pb2.Any:
    """Wrap a registered message in an Any ("type.googleapis.com/skiff.api.core.v1.Pod")."""
    if obj.DESCRIPTOR.full_name not in _CLASS_BY_FULL_NAME:
        raise ValueError(f"{obj.DESCRIPTOR.full_name} is not a registered kind")
    envelope = any_pb2.Any()
    envelope.Pack(obj)
    return envelope


def unpack(a: any_pb2.Any) -> Message:
    """Open an Any from the wire; BadRequest for an empty, unknown or corrupt envelope."""
    if not a.type_url:
        raise errors.BadRequest("object is required")
    full_name = a.type_url.rpartition("/")[2]
    cls = _CLASS_BY_FULL_NAME.get(full_name)
    if cls is None:
        raise errors.BadRequest(f'unsupported object type "{a.type_url}"')
    obj = cls()
    try:
        obj.ParseFromString(a.value)
    except DecodeError as exc:
        raise errors.BadRequest(f"cannot decode {full_name}: {exc}") from None
    return obj
