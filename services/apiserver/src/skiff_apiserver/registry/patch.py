"""Patch: JSON merge patch (RFC 7386, a few lines below) and JSON patch (RFC 6902, the `jsonpatch`
library), applied to the object's Kubernetes JSON form and converted back, then stored like an Update (or
like an update of the subresource: status, a namespace's finalize), so a patch that breaks the object
fails validation exactly as a bad update would. A patch without metadata.resourceVersion is retried on
conflict; one that sets it is a precondition."""

from __future__ import annotations

import json
from typing import Any

import jsonpatch
from google.protobuf.message import Message
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo, convert
from skiff_apiserver.registry.store import Store

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def apply_patch(doc: dict[str, Any], patch_type: str, raw: bytes) -> dict[str, Any]:
    try:
        patch = json.loads(raw or b"null")
    except ValueError as exc:
        raise errors.BadRequest(f"the patch is not valid JSON: {exc}") from None
    if patch_type == MERGE:
        if not isinstance(patch, dict):
            raise errors.BadRequest("a merge patch must be a JSON object")
        result = merge_patch(doc, patch)
    elif patch_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise errors.BadRequest("a JSON patch must be a JSON array of operations")
        try:
            result = jsonpatch.JsonPatch(patch).apply(doc)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise errors.BadRequest(f"the JSON patch cannot be applied: {exc}") from None
    else:
        raise errors.BadRequest(f'unsupported patch type {patch_type!r}: use "{MERGE}" or "{JSON_PATCH}"')
    if not isinstance(result, dict):
        raise errors.BadRequest("the patched document is not a JSON object")
    return result


async def patch(
    store: Store,
    info: KindInfo,
    namespace: str,
    name: str,
    patch_type: str,
    raw: bytes,
    subresource: str = "",
    dry_run: bool = False,
) -> Message:
    # Subresources that replace a part of the object: status, a namespace's finalize, a CSR's approval.
    allowed = ("", *(s for s in info.subresources if s in ("status", "finalize", "approval")))
    if subresource not in allowed:
        raise errors.BadRequest(
            f"unsupported subresource {subresource!r} for patch of {info.resource}: use one of {list(allowed)}"
        )
    namespace = (namespace or "default") if info.namespaced else ""
    for _ in range(10):
        current, mod_rev = await store.read(info, namespace, name)
        doc = apply_patch(convert.to_dict(current), patch_type, raw)
        try:
            new = convert.from_dict(doc, info.message)
        except errors.SkiffError:
            raise
        except (ValueError, TypeError) as exc:
            raise errors.Invalid(
                f'{info.kind} "{name}" is invalid', [errors.FieldError("<patch>", "Invalid value", str(exc))]
            ) from None
        m = new.metadata  # type: ignore[attr-defined]
        pinned = m.resource_version and m.resource_version != str(mod_rev)
        if m.name != name or (info.namespaced and m.namespace and m.namespace != namespace):
            raise errors.BadRequest("a patch may not change metadata.name or metadata.namespace")
        m.name, m.namespace = name, namespace
        if not pinned:
            m.resource_version = str(mod_rev)
        try:
            return await store.update(new, subresource=subresource, dry_run=dry_run)
        except errors.Conflict:
            if pinned:
                raise
            continue  # someone wrote in between: re-apply the patch to the latest object
    raise errors.Conflict(f"too many concurrent writers to {info.resource} {name!r}; try again")
