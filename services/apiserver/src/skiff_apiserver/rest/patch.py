"""PATCH: JSON patch and JSON merge patch (the registry's own appliers, the ones the gRPC Patch uses),
strategic merge patch (strategic.py), on an object or its status, and on the scale subresource.

The loop is the registry's: apply the patch to the latest object's JSON, decode the result (with the
request's fieldValidation), store it as an Update guarded by the version read, and on a conflict re-apply
to the newer object -- unless the patch itself pinned metadata.resourceVersion, which makes it a
precondition. Server-side apply (`application/apply-patch+yaml`) is apply.py's.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import Message
from skiff.api.autoscaling.v1 import scale_pb2
from skiff_apiserver.machinery import convert
from skiff_apiserver.registry import bounds
from skiff_apiserver.registry import patch as patching
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import codec, fieldmanager, strategic
from skiff_apiserver.rest.router import Target
from skiff_apiserver.rest.status import UnsupportedMediaType
from skiff_apiserver.rest.subresources import store_scale
from skiff_common import errors

STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
TYPES = (patching.JSON_PATCH, patching.MERGE, STRATEGIC, APPLY)


def patch_type(content_type: str) -> str:
    kind = content_type.split(";")[0].strip()
    if kind in TYPES:
        return kind
    raise UnsupportedMediaType(f'the patch content type "{kind}" is not supported; use one of {", ".join(TYPES)}')


def _apply(doc: dict[str, Any], kind: str, raw: bytes, message: type[Message]) -> dict[str, Any]:
    if kind != STRATEGIC:
        return patching.apply_patch(doc, kind, raw)
    try:
        body = bounds.loads(raw or b"null", "the patch")
    except ValueError as exc:
        raise errors.BadRequest(f"the patch is not valid JSON: {exc}") from None
    return strategic.apply(doc, body, message.DESCRIPTOR)  # type: ignore[arg-type]


async def patch_object(
    registry: Registry, target: Target, kind: str, raw: bytes, mode: str, dry_run: bool, manager: str
) -> tuple[Message, list[str]]:
    info, name = target.info, target.name
    namespace = target.namespace if info.namespaced else ""
    for _ in range(10):
        current, mod_rev = await registry.store.read(info, namespace, name)
        live = convert.to_dict(current)
        doc = _apply(live, kind, raw, info.message)
        new, warnings = codec.decode(doc, info, mode)
        if not target.subresource:
            fieldmanager.record_update(info, manager, live, current, doc, new)
        m = new.metadata  # type: ignore[attr-defined]
        if m.name != name or (info.namespaced and m.namespace and m.namespace != namespace):
            raise errors.BadRequest("a patch may not change metadata.name or metadata.namespace")
        m.name, m.namespace = name, namespace
        pinned = bool(m.resource_version) and m.resource_version != str(mod_rev)
        if not pinned:
            m.resource_version = str(mod_rev)
        try:
            updated = await registry.update(new, subresource=target.subresource, dry_run=dry_run)
            return updated, warnings
        except errors.Conflict:
            if pinned:
                raise
    raise errors.Conflict(f"too many concurrent writers to {info.resource} {name!r}; try again")


async def patch_scale(
    registry: Registry, target: Target, kind: str, raw: bytes, dry_run: bool, manager: str = ""
) -> scale_pb2.Scale:
    """The scale subresource: a Scale is flat, so every patch type merges the same way."""
    current = await registry.get_scale(target.info.resource, target.namespace, target.name)
    doc = _apply(convert.to_dict(current), kind, raw, scale_pb2.Scale)
    scale = convert.from_dict(doc, scale_pb2.Scale)
    scale.metadata.name, scale.metadata.namespace = target.name, target.namespace
    return await store_scale(registry, target, scale, dry_run, manager)
