"""Scalar codecs for the converter: one strict decode and one encode function per protobuf type.

Decoders take the JSON value, the field path and the error list; they return the protobuf value or
``INVALID`` after appending a FieldError, so one bad field never hides the next. The checks mirror what
Kubernetes' strict JSON decoding rejects: a string where an integer belongs (``replicas: "3"``), a number
where a string belongs (``value: 8080`` in an env var), YAML's ``yes`` for a bool is fine only because the
YAML loader already made it a real bool. Integral floats (``3.0``) are integers, as they are after
sigs.k8s.io/yaml's YAML-to-JSON step. ``bool`` is excluded from integers explicitly (Python's bool is an
int subclass).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor

from skiff_common.errors import FieldError

INVALID: Final = object()
Decoder = Callable[[Any, str, list[FieldError]], Any]
Encoder = Callable[[Any], Any]

_TS_SYNTAX: Final = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)


def got(value: Any) -> str:
    """How an offending value is shown in an error detail: JSON-ish and short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 64 else value[:64] + "...")
    if isinstance(value, int) and value.bit_length() > 200:  # repr() of a huge int is slow or refused
        return "a very large integer"
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 32 else text[:32] + "..."
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__


def mismatch(path: str, expected: str, value: Any, errs: list[FieldError]) -> object:
    errs.append(FieldError(path, "Invalid value", f"expected {expected}, got {got(value)}"))
    return INVALID


def _int_decoder(lo: int, hi: int, what: str) -> Decoder:
    def decode(value: Any, path: str, errs: list[FieldError]) -> Any:
        if type(value) is not int:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            elif isinstance(value, int) and not isinstance(value, bool):
                value = int(value)
            else:
                return mismatch(path, "integer", value, errs)
        if lo <= value <= hi:
            return value
        errs.append(FieldError(path, "Invalid value", f"{got(value)}: out of range for {what}"))
        return INVALID

    return decode


def decode_string(value: Any, path: str, errs: list[FieldError]) -> Any:
    if type(value) is not str:
        if isinstance(value, str):
            value = str(value)
        else:
            return mismatch(path, "string", value, errs)
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            errs.append(FieldError(path, "Invalid value", "not valid UTF-8"))
            return INVALID
    return value


def _decode_bool(value: Any, path: str, errs: list[FieldError]) -> Any:
    return value if isinstance(value, bool) else mismatch(path, "boolean", value, errs)


def _decode_float(value: Any, path: str, errs: list[FieldError]) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return mismatch(path, "number", value, errs)


def _decode_bytes(value: Any, path: str, errs: list[FieldError]) -> Any:
    if not isinstance(value, str):
        return mismatch(path, "base64 string", value, errs)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        errs.append(FieldError(path, "Invalid value", "illegal base64 data"))
        return INVALID


def _encode_bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def identity(value: Any) -> Any:
    return value


def _enum_codec(enum: EnumDescriptor) -> tuple[Decoder, Encoder]:
    names = {v.name: v.number for v in enum.values}
    numbers = {v.number: v.name for v in enum.values}

    def decode(value: Any, path: str, errs: list[FieldError]) -> Any:
        if isinstance(value, str) and value in names:
            return names[value]
        allowed = ", ".join(f'"{n}"' for n in names)
        errs.append(FieldError(path, "Unsupported value", f"{got(value)}: supported values: {allowed}"))
        return INVALID

    return decode, lambda number: numbers.get(number, number)


_T = FieldDescriptor
_I32 = _int_decoder(-(2**31), 2**31 - 1, "a 32-bit integer")
_I64 = _int_decoder(-(2**63), 2**63 - 1, "a 64-bit integer")
_U32 = _int_decoder(0, 2**32 - 1, "an unsigned 32-bit integer")
_U64 = _int_decoder(0, 2**64 - 1, "an unsigned 64-bit integer")
_SCALARS: Final[dict[int, tuple[Decoder, Encoder]]] = {
    _T.TYPE_INT32: (_I32, identity),
    _T.TYPE_SINT32: (_I32, identity),
    _T.TYPE_SFIXED32: (_I32, identity),
    _T.TYPE_INT64: (_I64, identity),
    _T.TYPE_SINT64: (_I64, identity),
    _T.TYPE_SFIXED64: (_I64, identity),
    _T.TYPE_UINT32: (_U32, identity),
    _T.TYPE_FIXED32: (_U32, identity),
    _T.TYPE_UINT64: (_U64, identity),
    _T.TYPE_FIXED64: (_U64, identity),
    _T.TYPE_BOOL: (_decode_bool, identity),
    _T.TYPE_STRING: (decode_string, identity),
    _T.TYPE_BYTES: (_decode_bytes, _encode_bytes),
    _T.TYPE_FLOAT: (_decode_float, identity),
    _T.TYPE_DOUBLE: (_decode_float, identity),
}


def scalar_codec(field: FieldDescriptor) -> tuple[Decoder, Encoder]:
    """The (decode, encode) pair of a non-message field."""
    if field.type == _T.TYPE_ENUM:
        assert field.enum_type is not None
        return _enum_codec(field.enum_type)
    return _SCALARS[field.type]


def parse_timestamp(value: Any, path: str, errs: list[FieldError]) -> tuple[int, int] | None:
    """RFC 3339 text (or a datetime from a YAML loader) -> (seconds, nanos) since the epoch."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return calendar.timegm(aware.utctimetuple()), aware.microsecond * 1000
    if not isinstance(value, str):
        mismatch(path, "RFC 3339 timestamp", value, errs)
        return None
    match = _TS_SYNTAX.fullmatch(value)
    try:
        if match is None:
            raise ValueError
        y, mo, d, h, mi, s, frac, sign, oh, om = match.groups()
        datetime(int(y), int(mo), int(d), int(h), int(mi), int(s))  # validates the calendar fields
        seconds = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(s), 0, 0, 0))
        if sign:
            offset = int(oh) * 3600 + int(om) * 60
            seconds -= offset if sign == "+" else -offset
        nanos = int((frac or "0")[:9].ljust(9, "0"))
    except ValueError:
        errs.append(
            FieldError(
                path, "Invalid value", f'{got(value)}: expected an RFC 3339 timestamp like "2024-05-01T10:00:00Z"'
            )
        )
        return None
    return seconds, nanos


def format_timestamp(seconds: int, nanos: int) -> str:
    """UTC, "Z", whole seconds unless there is a fraction (then trailing zeros trimmed, like Go)."""
    t = time.gmtime(seconds)
    text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"
