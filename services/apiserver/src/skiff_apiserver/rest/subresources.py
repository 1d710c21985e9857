"""The scale (GET/PUT; PATCH is in patch.py) and binding subresources: the registry's own verbs, with
Kubernetes' bodies (an autoscaling/v1 Scale, a v1 Binding)."""

from __future__ import annotations

from aiohttp import web
from skiff.api.autoscaling.v1 import scale_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.machinery import convert
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.handlers import object_response, read_body, success
from skiff_apiserver.rest.router import Target


async def get_scale(request: web.Request, target: Target, registry: Registry) -> web.Response:
    scale = await registry.get_scale(target.info.resource, target.namespace, target.name)
    return object_response(request, scale)


async def update_scale(request: web.Request, target: Target, registry: Registry) -> web.Response:
    scale = convert.from_dict(await read_body(request), scale_pb2.Scale)
    scale.metadata.name, scale.metadata.namespace = target.name, target.namespace
    return object_response(request, await registry.update_scale(target.info.resource, scale))


async def bind(request: web.Request, target: Target, registry: Registry) -> web.Response:
    binding = convert.from_dict(await read_body(request), pod_pb2.Binding)
    binding.metadata.name = binding.metadata.name or target.name
    binding.metadata.namespace = target.namespace
    await registry.bind(binding)
    return success(code=201)
