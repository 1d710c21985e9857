"""The binding (pods) and scale (deployments, replicasets) subresources."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo, kinds, labels
from skiff_apiserver.registry.objects import meta, now
from skiff_apiserver.registry.store import Store


async def bind(store: Store, binding: pod_pb2.Binding) -> Message:
    """Set spec.nodeName of an unbound pod (ABORTED if it is bound already or being deleted) and mark it
    PodScheduled, in one compare-and-swap."""
    info = kinds.lookup_resource("pods")
    name, namespace = binding.metadata.name, binding.metadata.namespace or "default"
    errs = []
    if not name:
        errs.append(errors.FieldError("metadata.name", "Required value"))
    if not binding.target.name:
        errs.append(errors.FieldError("target.name", "Required value"))
    if binding.target.kind not in ("", "Node"):
        errs.append(errors.FieldError("target.kind", "Unsupported value", f'{binding.target.kind!r}: must be "Node"'))
    if errs:
        raise errors.Invalid("Binding is invalid", errs)

    def mutate(pod: Message) -> Message:
        p: pod_pb2.Pod = pod  # type: ignore[assignment]
        if binding.metadata.uid and binding.metadata.uid != p.metadata.uid:
            raise errors.Conflict(f'pod "{name}": binding UID {binding.metadata.uid} does not match the pod')
        if p.metadata.HasField("deletion_timestamp"):
            raise errors.Conflict(f'pod "{name}" is being deleted, cannot be assigned to a host')
        if p.spec.node_name:
            raise errors.Conflict(f'pod "{name}" is already assigned to node "{p.spec.node_name}"')
        p.spec.node_name = binding.target.name
        for c in p.status.conditions:
            if c.type == "PodScheduled":
                break
        else:
            c = p.status.conditions.add(type="PodScheduled")
        c.status = "True"
        c.reason, c.message = "", ""
        c.last_transition_time.CopyFrom(now())
        return p

    return await store.guaranteed_update(info, namespace, name, mutate, system=True, validate=False)


def _scalable(resource: str) -> KindInfo:
    info = kinds.lookup_resource(resource)
    if "scale" not in info.subresources:
        raise errors.NotFound(f"{info.resource} has no scale subresource")
    return info


def to_scale(obj: Message) -> scale_pb2.Scale:
    m = meta(obj)
    out = scale_pb2.Scale(api_version="autoscaling/v1", kind="Scale")
    out.metadata.CopyFrom(
        meta_pb2.ObjectMeta(
            name=m.name,
            namespace=m.namespace,
            uid=m.uid,
            resource_version=m.resource_version,
            creation_timestamp=m.creation_timestamp,
        )
    )
    spec = obj.spec  # type: ignore[attr-defined]
    out.spec.replicas = spec.replicas if spec.HasField("replicas") else 1
    out.status.replicas = obj.status.replicas  # type: ignore[attr-defined]
    out.status.selector = str(labels.selector_from_proto(spec.selector))
    return out


async def get_scale(store: Store, resource: str, namespace: str, name: str) -> scale_pb2.Scale:
    info = _scalable(resource)
    obj, _ = await store.read(info, namespace or "default", name)
    return to_scale(obj)


async def update_scale(store: Store, resource: str, scale: scale_pb2.Scale) -> scale_pb2.Scale:
    info = _scalable(resource)
    if scale.spec.replicas < 0:
        raise errors.Invalid(
            f'Scale "{scale.metadata.name}" is invalid',
            [
                errors.FieldError(
                    "spec.replicas",
                    "Invalid value",
                    f"{scale.spec.replicas}: must be greater than or equal to 0",
                )
            ],
        )

    def mutate(obj: Message) -> Message:
        obj.spec.replicas = scale.spec.replicas  # type: ignore[attr-defined]
        return obj

    obj = await store.guaranteed_update(
        info,
        scale.metadata.namespace or "default",
        scale.metadata.name,
        mutate,
        wanted_rv=scale.metadata.resource_version,
        system=True,
    )
    return to_scale(obj)
