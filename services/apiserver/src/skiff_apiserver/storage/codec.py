"""Keys and values in etcd.

Objects are stored as protobuf bytes under <prefix>/<resource>/<namespace>/<name> (cluster-scoped:
<prefix>/<resource>/<name>), like Kubernetes' /registry layout. The stored bytes never contain a
resourceVersion: it is the key's etcd mod_revision and is filled in on every read, so it cannot disagree
with etcd.
"""

from __future__ import annotations

from google.protobuf import any_pb2
from google.protobuf.message import Message

from skiff_apiserver.machinery import KindInfo, kinds


def resource_prefix(prefix: str, info: KindInfo, namespace: str = "") -> bytes:
    base = f"{prefix.rstrip('/')}/{info.resource}/"
    if info.namespaced and namespace:
        base += f"{namespace}/"
    return base.encode()


def object_key(prefix: str, info: KindInfo, namespace: str, name: str) -> bytes:
    if info.namespaced:
        return f"{prefix.rstrip('/')}/{info.resource}/{namespace}/{name}".encode()
    return f"{prefix.rstrip('/')}/{info.resource}/{name}".encode()


def encode(obj: Message) -> bytes:
    rv = obj.metadata.resource_version  # type: ignore[attr-defined]
    if not rv:
        return obj.SerializeToString(deterministic=True)
    obj.metadata.resource_version = ""  # type: ignore[attr-defined]
    try:
        return obj.SerializeToString(deterministic=True)
    finally:
        obj.metadata.resource_version = rv  # type: ignore[attr-defined]


def decode(info: KindInfo, value: bytes, revision: int) -> Message:
    obj = info.message()
    obj.ParseFromString(value)
    obj.metadata.resource_version = str(revision)  # type: ignore[attr-defined]
    kinds.set_type_meta(obj)
    return obj


def pack_stored(obj: Message, stored: bytes) -> any_pb2.Any:
    """`obj` as an Any, built from its stored bytes instead of serializing it again.

    `stored` is `encode(obj)`: everything but metadata.resourceVersion. Protobuf parsing merges repeated
    occurrences of a message field, so appending the encoding of a message that holds only
    `metadata {resource_version}` yields bytes that decode to exactly `obj` (the stored bytes never
    contain the field, so nothing is overwritten). The result is not byte-identical to
    `SerializeToString()` (field order), which no reader relies on."""
    rv = obj.metadata.resource_version  # type: ignore[attr-defined]
    value = stored
    if rv:
        tail = type(obj)()
        tail.metadata.resource_version = rv  # type: ignore[attr-defined]
        value = stored + tail.SerializeToString()
    return any_pb2.Any(type_url=_TYPE_URL_PREFIX + obj.DESCRIPTOR.full_name, value=value)


_TYPE_URL_PREFIX = "type.googleapis.com/"
