"""Server-side apply (`PATCH` with `application/apply-patch+yaml`, `kubectl apply --server-side`).

The applied configuration creates the object when it does not exist; otherwise it is merged into the
live object with the strategic merge rules (lists merge by their Kubernetes merge keys), and
fieldmanager.py decides ownership: conflicts with other managers (409 unless `force=true`), the
manager's Apply entry in managedFields, and the removal of fields it applied before and no longer
applies. The result goes through the same decode/update path as any patch, guarded by the version read
(a lost race re-applies to the newer object). `fieldManager` is required, as in Kubernetes.
"""

from __future__ import annotations

from typing import Any

import yaml
from google.protobuf.message import Message
from skiff_apiserver.machinery import convert
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest import codec, fieldmanager, strategic
from skiff_apiserver.rest.router import Target
from skiff_common import errors


def _config(raw: bytes, target: Target) -> dict[str, Any]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise errors.BadRequest(f"the apply configuration is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise errors.BadRequest("the apply configuration must be an object")
    info = target.info
    if data.get("apiVersion") != info.api_version or data.get("kind") != info.kind:
        raise errors.BadRequest(
            f'the apply configuration must have apiVersion "{info.api_version}" and kind "{info.kind}"'
        )
    meta = data.get("metadata") or {}
    if meta.get("name") not in (None, target.name):
        raise errors.BadRequest(
            f"the name of the object ({meta.get('name')}) does not match the name on the URL ({target.name})"
        )
    return data


async def apply(
    registry: Registry, target: Target, raw: bytes, field_manager: str, mode: str, dry_run: bool, force: bool
) -> tuple[Message, list[str], bool]:
    """(object, warnings, created)."""
    if not field_manager:
        raise errors.Invalid(
            "PatchOptions.meta.k8s.io is invalid",
            [errors.FieldError("fieldManager", "Required value", "is required for apply patch")],
        )
    config = _config(raw, target)
    info = target.info
    namespace = target.namespace if info.namespaced else ""
    for _ in range(10):
        try:
            current, mod_rev = await registry.store.read(info, namespace, target.name)
        except errors.NotFound:
            obj, warnings = codec.decode(config, info, mode)
            m = obj.metadata  # type: ignore[attr-defined]
            m.name, m.namespace = target.name, namespace
            result = fieldmanager.apply(info, field_manager, {}, obj, config, config, force=force)
            fieldmanager.write_entries(obj, result.entries)
            try:
                return await registry.create(obj, dry_run=dry_run), warnings, True
            except errors.AlreadyExists:
                continue  # created meanwhile: apply to it
        live = convert.to_dict(current)
        merged = strategic.apply(live, config, info.message.DESCRIPTOR)  # type: ignore[arg-type]
        result = fieldmanager.apply(info, field_manager, live, current, config, merged, force=force)
        new, warnings = codec.decode(result.merged, info, mode)
        fieldmanager.write_entries(new, result.entries)
        m = new.metadata  # type: ignore[attr-defined]
        m.name, m.namespace, m.resource_version = target.name, namespace, str(mod_rev)
        try:
            return await registry.update(new, dry_run=dry_run), warnings, False
        except errors.Conflict:
            continue
    raise errors.Conflict(f"too many concurrent writers to {info.resource} {target.name!r}; try again")
