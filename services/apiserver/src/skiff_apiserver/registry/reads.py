"""Get and List: from etcd (resourceVersion "" = latest, "N" = exactly revision N) or from the watch cache
("0"), with label/field selectors and pagination.

A continue token is base64(JSON {"rv": revision, "start": next key}). Every page of one list reads etcd
at the first page's revision, so a paginated list is one consistent snapshot even while objects change;
each page is one etcd range from the token's key, so a page costs the same whatever its position. Once etcd
has compacted that revision the token is Expired (410 Gone), and, as in Kubernetes, the error carries a
fresh token with rv -1: the client may start over (consistent) or go on from the same key at the latest
revision (the rest of the list then at that one revision, but not the first pages' one).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from google.protobuf.message import Message
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo, fields, labels
from skiff_apiserver.registry import bounds
from skiff_apiserver.registry.objects import not_found
from skiff_apiserver.registry.store import Store
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import prefix_end

Filter = Callable[..., bool]  # (obj, field_values=None) -> bool


@dataclass(frozen=True)
class ListOptions:
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""
    limit: int = 0
    continue_token: str = ""
    resource_version: str = ""


def make_filter(info: KindInfo, namespace: str, label_selector: str, field_selector: str) -> Filter:
    """Parse both selectors (BadRequest naming the bad one) into one predicate."""
    bounds.check_selector(label_selector, "labelSelector")
    bounds.check_selector(field_selector, "fieldSelector")
    try:
        lsel = labels.parse_selector(label_selector)
    except ValueError as exc:
        raise errors.BadRequest(f"invalid label selector {label_selector!r}: {exc}") from None
    try:
        fsel = fields.parse_field_selector(field_selector)
    except ValueError as exc:
        raise errors.BadRequest(f"invalid field selector {field_selector!r}: {exc}") from None
    supported = fields.supported_fields(info.kind)
    unsupported = sorted(set(fsel.fields()) - supported)
    if unsupported:
        raise errors.BadRequest(
            f'field label not supported: "{unsupported[0]}" (supported for {info.kind}: {", ".join(sorted(supported))})'
        )
    ns = namespace if info.namespaced else ""
    any_labels, any_fields = not lsel.empty(), not fsel.empty()

    # Runs once per event per watcher: skip what the request did not ask for, and take an object's
    # field values from the caller when it has them (the watch cache computes them once per event).
    def match(obj: Message, field_values: Mapping[str, str] | None = None) -> bool:
        m = obj.metadata  # type: ignore[attr-defined]
        if ns and m.namespace != ns:
            return False
        if any_labels and not lsel.matches(m.labels):
            return False
        if any_fields:
            return bool(fsel.matches(field_values if field_values is not None else fields.object_fields(obj)))
        return True

    return match


_INCONSISTENT = -1  # a token's rv after its snapshot expired: go on at the latest revision
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new list "
    "without the continue parameter, or use the continue token in this response to retrieve the remainder of "
    "the results. Continuing with the provided token results in an inconsistent list - objects that were "
    "created, modified, or deleted between the time the first chunk was returned and now may show up in the list."
)


def _encode_token(rev: int, start: bytes) -> str:
    raw = json.dumps({"rv": rev, "start": start.decode("utf-8", "surrogateescape")}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_token(token: str, prefix: bytes) -> tuple[int, bytes]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rev, start = int(data["rv"]), str(data["start"]).encode("utf-8", "surrogateescape")
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.BadRequest("invalid continue token: it must be the value a previous list returned") from None
    if not start.startswith(prefix) or (rev <= 0 and rev != _INCONSISTENT):
        raise errors.BadRequest("invalid continue token: it belongs to a different list")
    return rev, start


class Reads:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, info: KindInfo, namespace: str, name: str, resource_version: str = "") -> Message:
        namespace = (namespace or "default") if info.namespaced else ""
        wanted = bounds.resource_version(resource_version)
        if wanted:  # "not older than N": the latest is, unless N is in the future
            await self._not_in_future(info, wanted)
        if resource_version == "0" and info.resource in self.store.caches:
            obj = self.store.caches[info.resource].get(self.store.key(info, namespace, name))
            if obj is None:
                raise not_found(info, name)
            return obj
        obj, _ = await self.store.read(info, namespace, name)
        return obj

    async def _not_in_future(self, info: KindInfo, rev: int) -> None:
        """Kubernetes answers a resourceVersion the store has not reached with a Timeout (504), never
        with data labelled by it or a "too old"."""
        cache = self.store.caches.get(info.resource)
        if cache is not None and rev <= cache.revision:
            return
        current = await self.store.client.current_revision()
        if rev > current:
            raise errors.Timeout(
                f"Too large resource version: {rev}, current: {current}", metadata={"current": str(current)}
            )

    async def list_objects(self, info: KindInfo, opts: ListOptions) -> tuple[list[Message], meta_pb2.ListMeta]:
        match = make_filter(info, opts.namespace, opts.label_selector, opts.field_selector)
        bounds.resource_version(opts.resource_version)
        if opts.limit < 0:
            raise errors.BadRequest("limit must not be negative")
        cache = self.store.caches.get(info.resource)
        if opts.resource_version == "0" and not opts.continue_token and cache is not None:
            # From the cache: a full, possibly slightly stale list; limit does not apply (as in Kubernetes).
            items = cache.list_objects(opts.namespace if info.namespaced else "", match)
            return items, meta_pb2.ListMeta(resource_version=str(cache.revision))
        return await self._list_etcd(info, opts, match)

    async def _list_etcd(
        self, info: KindInfo, opts: ListOptions, match: Filter
    ) -> tuple[list[Message], meta_pb2.ListMeta]:
        prefix = codec.resource_prefix(self.store.prefix, info, opts.namespace if info.namespaced else "")
        end = prefix_end(prefix)
        rev, start = 0, prefix
        if opts.continue_token:
            rev, start = _decode_token(opts.continue_token, prefix)
            rev = max(rev, 0)  # an inconsistent continuation reads the latest revision
        elif opts.resource_version not in ("", "0"):
            rev = bounds.resource_version(opts.resource_version) or 0
            await self._not_in_future(info, rev)
        origin = start
        items: list[Message] = []
        token = ""
        while True:
            chunk = max(opts.limit - len(items), 1) + 1 if opts.limit else 0
            if opts.limit:
                chunk = max(chunk, 100)  # selectors may reject many: read in reasonable chunks
            try:
                kvs, more, read_rev = await self.store.client.range(start, end, revision=rev, limit=chunk)
            except errors.Expired:
                if not opts.continue_token:
                    raise
                raise errors.Expired(
                    EXPIRED_CONTINUE, metadata={"continue": _encode_token(_INCONSISTENT, origin)}
                ) from None
            rev = rev or read_rev
            for i, kv in enumerate(kvs):
                obj = codec.decode(info, kv.value, kv.mod_revision)
                if match(obj):
                    items.append(obj)
                if opts.limit and len(items) >= opts.limit:
                    if i + 1 < len(kvs) or more:
                        token = _encode_token(rev, kv.key + b"\0")
                    break
            else:
                if more and kvs:
                    start = kvs[-1].key + b"\0"
                    continue
            break
        return items, meta_pb2.ListMeta(resource_version=str(rev), continue_token=token)
