"""Keys and values in etcd.

Objects are stored as protobuf bytes under <prefix>/<resource>/<namespace>/<name> (cluster-scoped:
<prefix>/<resource>/<name>), like Kubernetes' /registry layout. The stored bytes never contain a
resourceVersion: it is the key's etcd mod_revision and is filled in on every read, so it cannot disagree
with etcd.
"""

from __future__ import annotations

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
