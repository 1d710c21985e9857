"""Fallback JSON conversion (same API as skiff_common.apimachinery.convert).

protobuf's json_format already uses each field's json_name, which is the Kubernetes spelling. It does not
render Quantity/IntOrString as bare scalars; that only matters for interchange with other tools, not for
the apiserver's own round trip (patch: to_dict -> patch -> from_dict), which is what uses this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message
from skiff_common import errors

M = TypeVar("M", bound=Message)


def to_dict(obj: Message) -> dict[str, Any]:
    return json_format.MessageToDict(obj)


def from_dict(data: Mapping[str, Any], message_type: type[M] | None = None) -> M:
    if message_type is None:
        from skiff_apiserver._fallback.kinds import lookup_kind

        message_type = lookup_kind(str(data.get("apiVersion", "")), str(data.get("kind", ""))).message  # type: ignore[assignment]
    assert message_type is not None
    msg = message_type()
    try:
        json_format.ParseDict(dict(data), msg)
    except json_format.ParseError as exc:
        raise errors.Invalid(
            f"{message_type.DESCRIPTOR.name} is invalid", [errors.FieldError("<object>", "Invalid value", str(exc))]
        ) from None
    return msg
