"""The scale (GET/PUT; PATCH is in patch.py) and binding subresources: the registry's own verbs, with
Kubernetes' bodies (an autoscaling/v1 Scale, a v1 Binding)."""

from __future__ import annotations

from aiohttp import web
from google.protobuf.message import Message
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.machinery import convert
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.subresources import to_scale
from skiff_apiserver.rest import fieldmanager
from skiff_apiserver.rest.handlers import dry_run, manager, object_response, read_body, success
from skiff_apiserver.rest.router import Target


async def get_scale(request: web.Request, target: Target, registry: Registry) -> web.Response:
    scale = await registry.get_scale(target.info.resource, target.namespace, target.name)
    return object_response(request, scale)


async def update_scale(request: web.Request, target: Target, registry: Registry) -> web.Response:
    scale = convert.from_dict(await read_body(request), scale_pb2.Scale)
    scale.metadata.name, scale.metadata.namespace = target.name, target.namespace
    return object_response(request, await store_scale(registry, target, scale, dry_run(request), manager(request)))


async def store_scale(
    registry: Registry, target: Target, scale: scale_pb2.Scale, dry: bool, field_manager: str = ""
) -> scale_pb2.Scale:
    """The registry's UpdateScale, plus field ownership: the write is the manager's update of the
    parent's spec.replicas with subresource "scale", in the same transaction (so a later apply of
    another replicas value conflicts with it, as in Kubernetes). A dry run (which UpdateScale has no
    notion of) is the object's own Update with the new replicas, dry run, seen through the scale
    subresource."""
    if scale.spec.replicas < 0:
        await registry.update_scale(target.info.resource, scale)  # raises its Invalid, writes nothing
    if not dry and field_manager:
        info = target.info

        def mutate(obj: Message) -> Message:
            live = convert.to_dict(obj)
            obj.spec.replicas = scale.spec.replicas  # type: ignore[attr-defined]
            fieldmanager.record_update(info, field_manager, live, None, convert.to_dict(obj), obj, "scale")
            return obj

        namespace = target.namespace or "default"
        wanted = scale.metadata.resource_version
        stored = await registry.store.guaranteed_update(
            info, namespace, target.name, mutate, wanted_rv=wanted, system=True
        )
        return to_scale(stored)
    if not dry:
        return await registry.update_scale(target.info.resource, scale)
    if scale.spec.replicas < 0:
        await registry.update_scale(target.info.resource, scale)  # raises its Invalid, writes nothing
    obj = await registry.get(target.info, target.namespace, target.name)
    obj.spec.replicas = scale.spec.replicas  # type: ignore[attr-defined]
    if scale.metadata.resource_version:
        obj.metadata.resource_version = scale.metadata.resource_version  # type: ignore[attr-defined]
    return to_scale(await registry.update(obj, dry_run=True))


async def evict(request: web.Request, target: Target, registry: Registry) -> web.Response:
    """pods/eviction (`kubectl drain`): a delete with the Eviction's DeleteOptions. There are no
    PodDisruptionBudgets to consult yet, so an eviction is always allowed, as Kubernetes allows one
    that no budget covers."""
    body = await read_body(request)
    options = body.get("deleteOptions") or {} if isinstance(body, dict) else {}
    pre = options.get("preconditions") or {}
    await registry.delete(
        target.info,
        target.namespace,
        target.name,
        grace=options.get("gracePeriodSeconds"),
        propagation=options.get("propagationPolicy") or "",
        uid=pre.get("uid"),
        rv=pre.get("resourceVersion"),
        dry_run=dry_run(request, options),
    )
    return success(code=201)


async def bind(request: web.Request, target: Target, registry: Registry) -> web.Response:
    binding = convert.from_dict(await read_body(request), pod_pb2.Binding)
    binding.metadata.name = binding.metadata.name or target.name
    binding.metadata.namespace = target.namespace
    await registry.bind(binding)
    return success(code=201)
