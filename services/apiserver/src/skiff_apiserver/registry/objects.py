"""Small helpers on API objects shared by the registry modules (names, timestamps, messages)."""

from __future__ import annotations

import secrets
import time

from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors

from skiff_apiserver.machinery import KindInfo

# Kubernetes' generateName alphabet: no vowels (no accidental words), no confusable 0/1/3.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
MAX_OBJECT_BYTES = 1536 * 1024  # 1.5 MiB, like etcd's default request limit in Kubernetes


def now() -> Timestamp:
    ts = Timestamp()
    ts.FromSeconds(int(time.time()))
    return ts


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(n))


def meta(obj: Message) -> meta_pb2.ObjectMeta:
    return obj.metadata  # type: ignore[attr-defined, no-any-return]


def describe(info: KindInfo, name: str) -> str:
    return f'{info.resource} "{name}"'


def not_found(info: KindInfo, name: str) -> errors.NotFound:
    return errors.NotFound(f"{describe(info, name)} not found")


def conflict(info: KindInfo, name: str) -> errors.Conflict:
    return errors.Conflict(
        f"Operation cannot be fulfilled on {describe(info, name)}: the object has been "
        "modified; please apply your changes to the latest version and try again"
    )


def check_size(info: KindInfo, name: str, data: bytes) -> None:
    if len(data) > MAX_OBJECT_BYTES:
        raise errors.Invalid(
            f"{info.kind} {name!r} is too large",
            [
                errors.FieldError(
                    "<object>", "Too long", f"object is {len(data)} bytes, the limit is {MAX_OBJECT_BYTES}"
                )
            ],
        )
