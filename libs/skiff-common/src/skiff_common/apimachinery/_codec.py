"""Per-message-type conversion plans, built once from protobuf descriptors and cached.

``plan_for(descriptor)`` returns an object with ``decode_into(msg, data, path, errs)`` and
``encode(msg)``. A generic ``MessagePlan`` walks the fields by ``json_name``; each field gets, once, a pair
of closures specialised for its shape (singular scalar, singular message, repeated, map), so the hot
loop is a dict lookup and a call, with no descriptor inspection per value. A handful of messages have
their own JSON form and their own plan: Quantity (a string), IntOrString (a number or a string),
Timestamp (RFC 3339), Any (an embedded object with apiVersion/kind, like a RawExtension), Struct (any
JSON object, a RawExtension without type meta, e.g. ControllerRevision.data) and FieldsV1 (managedFields'
field sets: a JSON object kept as its bytes).

Presence rules: ``null`` means unset; a message field that appears (even as ``{}``) is marked present
with ``SetInParent`` so ``emptyDir: {}`` survives; encoding uses ``ListFields()``, which yields exactly
the set fields (non-zero scalars, present ``optional`` scalars even when zero, present messages,
non-empty repeated and map fields) in field-number order, which is also Kubernetes' struct order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

from google.protobuf import any_pb2, json_format, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from skiff_common import errors
from skiff_common.apimachinery import kinds
from skiff_common.apimachinery._scalars import (
    INVALID,
    Decoder,
    decode_string,
    format_timestamp,
    got,
    identity,
    mismatch,
    parse_timestamp,
    scalar_codec,
)
from skiff_common.apimachinery.quantity import canonical_quantity
from skiff_common.errors import FieldError

FieldDecoder = Callable[[Message, Any, str, list[FieldError]], None]
_INT32_RANGE: Final = range(-(2**31), 2**31)
_CPP = FieldDescriptor
_ZERO: Final = {_CPP.CPPTYPE_STRING: "", _CPP.CPPTYPE_BOOL: False, _CPP.CPPTYPE_DOUBLE: 0.0, _CPP.CPPTYPE_FLOAT: 0.0}


def _zero(field: FieldDescriptor) -> Any:
    """The value a null list element or map value stands for (Go's zero value)."""
    return b"" if field.type == _CPP.TYPE_BYTES else _ZERO.get(field.cpp_type, 0)


class Plan(Protocol):
    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None: ...
    def encode(self, msg: Any) -> Any: ...


class MessagePlan:
    """Generic plan: JSON object <-> message, field by field."""

    def __init__(self, descriptor: Descriptor) -> None:
        self.descriptor = descriptor
        self._by_json: dict[str, FieldDecoder] | None = None
        # json name and encoder by field number; encoder None means the value is already JSON-ready.
        self._by_number: dict[int, tuple[str, Callable[[Any], Any] | None]] = {}
        # Fast path for the commonest value, an ASCII string in a singular string field: no calls.
        self._plain_strings: dict[str, str] = {}

    def _build(self) -> dict[str, FieldDecoder]:
        by_json: dict[str, FieldDecoder] = {}
        for field in self.descriptor.fields:
            decode, encode = _field_codec(field)
            by_json[field.json_name] = decode
            self._by_number[field.number] = (field.json_name, None if encode is identity else encode)
            if field.type == _CPP.TYPE_STRING and not field.is_repeated:
                self._plain_strings[field.json_name] = field.name
        self._by_json = by_json
        return by_json

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if type(data) is not dict and not isinstance(data, Mapping):  # exact type first: ABC checks are slow
            mismatch(path or "<root>", "object", data, errs)
            return
        fields = self._by_json if self._by_json is not None else self._build()
        plain = self._plain_strings
        prefix = path + "." if path else ""
        for key, value in data.items():
            if type(value) is str and key in plain and value.isascii():
                setattr(msg, plain[key], value)
                continue
            decode = fields.get(key) if type(key) is str else None
            if decode is None:
                errs.append(FieldError(prefix + (str(key) if key != "" else '""'), "unknown field"))
            elif value is not None:
                decode(msg, value, prefix + key, errs)

    def encode(self, msg: Any) -> dict[str, Any]:
        if self._by_json is None:
            self._build()
        by_number = self._by_number
        out: dict[str, Any] = {}
        for field, value in msg.ListFields():
            json_name, encode = by_number[field.number]
            out[json_name] = value if encode is None else encode(value)
        return out


class QuantityPlan:
    """meta.v1.Quantity: a string (numbers accepted on input), stored in canonical form."""

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            mismatch(path, "quantity", data, errs)
            return
        try:
            msg.value = canonical_quantity(data.strip() if isinstance(data, str) else data)
        except ValueError as exc:
            errs.append(FieldError(path, "Invalid value", f"{got(data)}: {exc}"))

    def encode(self, msg: Any) -> str:
        return msg.value or "0"


class IntOrStringPlan:
    """meta.v1.IntOrString: a bare number or a bare string."""

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if isinstance(data, str):
            value = decode_string(data, path, errs)
            if value is not INVALID:
                msg.str_val = value
        elif (isinstance(data, int) and not isinstance(data, bool)) or (isinstance(data, float) and data.is_integer()):
            if int(data) in _INT32_RANGE:
                msg.int_val = int(data)
            else:
                detail = f"{got(data)}: out of range for a 32-bit integer"
                errs.append(FieldError(path, "Invalid value", detail))
        else:
            mismatch(path, "integer or string", data, errs)

    def encode(self, msg: Any) -> int | str:
        if msg.WhichOneof("value") == "str_val":
            return str(msg.str_val)
        return int(msg.int_val)


class TimestampPlan:
    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        parsed = parse_timestamp(data, path, errs)
        if parsed is not None:
            msg.seconds, msg.nanos = parsed

    def encode(self, msg: Any) -> str:
        return format_timestamp(msg.seconds, msg.nanos)


class AnyPlan:
    """google.protobuf.Any as an embedded object; its apiVersion/kind choose the message."""

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if not isinstance(data, Mapping):
            mismatch(path, "object", data, errs)
            return
        prefix = path + "." if path else ""
        meta = data_type_meta(data, prefix, errs)
        if meta is None:
            return
        try:
            cls = kinds.message_for(*meta)
        except errors.Invalid as exc:
            errs.extend(FieldError(prefix + e.path, e.reason, e.detail) for e in exc.errors)
            return
        inner = cls()
        plan_for(cls.DESCRIPTOR).decode_into(inner, data, path, errs)
        msg.Pack(inner)

    def encode(self, msg: Any) -> dict[str, Any]:
        try:
            inner = kinds.unpack(msg)
        except errors.SkiffError:
            return {"@type": msg.type_url}
        encoded: dict[str, Any] = plan_for(inner.DESCRIPTOR).encode(inner)
        return encoded


_EXACT = 2**53  # integers a double holds exactly


class StructPlan:
    """google.protobuf.Struct as the JSON object it holds. Protobuf keeps every number as a double; whole
    numbers come back as JSON integers, as they went in (a replica count stays 3, not 3.0)."""

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if not isinstance(data, Mapping):
            mismatch(path, "object", data, errs)
            return
        problem = _json_problem(data, path)
        if problem is not None:
            errs.append(problem)
            return
        try:
            json_format.ParseDict(dict(data), msg)
        except (json_format.ParseError, ValueError, TypeError) as exc:
            errs.append(FieldError(path, "Invalid value", str(exc)))

    def encode(self, msg: Any) -> dict[str, Any]:
        out: dict[str, Any] = _whole_numbers(json_format.MessageToDict(msg))
        return out


def _json_problem(value: Any, path: str) -> FieldError | None:
    """What a Struct cannot hold: non-string keys (YAML allows `1: x`), NaN/Infinity, and integers beyond
    2^53 (protobuf keeps numbers as doubles; a larger one would silently change)."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                return FieldError(f"{path}[{k!r}]", "Invalid value", "object keys must be strings")
            found = _json_problem(v, f"{path}.{k}" if path else k)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found = _json_problem(v, f"{path}[{i}]")
            if found is not None:
                return found
    elif isinstance(value, float) and not math.isfinite(value):
        return FieldError(path, "Invalid value", f"{value}: not a JSON number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _EXACT:
        return FieldError(path, "Invalid value", "integer out of range (at most 2^53 in an embedded object)")
    return None


def _whole_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT and math.copysign(1, value) > 0:
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


class FieldsV1Plan:
    """meta.v1.FieldsV1: a JSON object (a managed field set) kept as its compact JSON bytes, so storing
    and copying it costs no walk of the tree."""

    def decode_into(self, msg: Any, data: Any, path: str, errs: list[FieldError]) -> None:
        if not isinstance(data, Mapping):
            mismatch(path, "object", data, errs)
            return
        problem = _json_problem(data, path)  # the same limits as a Struct: string keys, finite numbers
        if problem is not None:
            errs.append(problem)
            return
        msg.raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()

    def encode(self, msg: Any) -> Any:
        return json.loads(msg.raw) if msg.raw else {}


def data_type_meta(data: Mapping[str, Any], prefix: str, errs: list[FieldError]) -> tuple[str, str] | None:
    """(apiVersion, kind) of a JSON object ("" when absent), or None after reporting a non-string."""
    api_version, kind = data.get("apiVersion") or "", data.get("kind") or ""
    if isinstance(api_version, str) and isinstance(kind, str):
        return api_version, kind
    for key, value in (("apiVersion", api_version), ("kind", kind)):
        if not isinstance(value, str):
            mismatch(prefix + key, "string", value, errs)
    return None


_SPECIAL: Final[dict[str, Plan]] = {
    "skiff.api.meta.v1.Quantity": QuantityPlan(),
    "skiff.api.meta.v1.IntOrString": IntOrStringPlan(),
    "google.protobuf.Timestamp": TimestampPlan(),
    "skiff.api.meta.v1.FieldsV1": FieldsV1Plan(),
    any_pb2.Any.DESCRIPTOR.full_name: AnyPlan(),
    struct_pb2.Struct.DESCRIPTOR.full_name: StructPlan(),
}
_PLANS: dict[str, Plan] = {}


def plan_for(descriptor: Any) -> Plan:
    """The cached plan of a message type (``descriptor`` is a message Descriptor; typed Any because the
    stubs disagree between the pure-Python and upb descriptor classes)."""
    plan = _PLANS.get(descriptor.full_name)
    if plan is None:
        plan = _SPECIAL.get(descriptor.full_name) or MessagePlan(descriptor)
        _PLANS[descriptor.full_name] = plan
    return plan


def _map_key(key: Any) -> str:
    """sigs.k8s.io/yaml turns non-string map keys into strings; so do we."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


def _value_codec(
    field: FieldDescriptor,
) -> tuple[Callable[[Any, str, list[FieldError]], Any] | None, Plan | None, Callable[[Any], Any]]:
    """(scalar decoder or None, message plan or None, encoder) of one field's element type."""
    if field.cpp_type == _CPP.CPPTYPE_MESSAGE:
        plan = plan_for(field.message_type)
        return None, plan, plan.encode
    decode, encode = scalar_codec(field)
    return decode, None, encode


def _field_codec(field: FieldDescriptor) -> tuple[FieldDecoder, Callable[[Any], Any]]:
    name = field.name
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        return _map_codec(name, field.message_type)
    decode, plan, encode = _value_codec(field)
    if field.is_repeated:
        if encode is identity:
            return _repeated_codec(name, decode, plan, _zero(field)), list
        return _repeated_codec(name, decode, plan, _zero(field)), (lambda values: [encode(v) for v in values])
    if plan is not None:

        def decode_message(msg: Any, value: Any, path: str, errs: list[FieldError]) -> None:
            sub = getattr(msg, name)
            sub.SetInParent()
            plan.decode_into(sub, value, path, errs)

        return decode_message, encode
    assert decode is not None
    scalar = decode

    def decode_scalar(msg: Any, value: Any, path: str, errs: list[FieldError]) -> None:
        result = scalar(value, path, errs)
        if result is not INVALID:
            setattr(msg, name, result)

    return decode_scalar, encode


def _repeated_codec(name: str, decode: Decoder | None, plan: Plan | None, zero: Any) -> FieldDecoder:
    def decode_list(msg: Any, value: Any, path: str, errs: list[FieldError]) -> None:
        if not isinstance(value, list | tuple):
            mismatch(path, "array", value, errs)
            return
        target = getattr(msg, name)
        if plan is not None:
            for i, item in enumerate(value):
                sub = target.add()
                if item is not None:
                    plan.decode_into(sub, item, f"{path}[{i}]", errs)
            return
        assert decode is not None
        items = [zero if item is None else decode(item, f"{path}[{i}]", errs) for i, item in enumerate(value)]
        if INVALID not in items:
            target.extend(items)

    return decode_list


def _map_codec(name: str, entry: Descriptor) -> tuple[FieldDecoder, Callable[[Any], Any]]:
    value_field = entry.fields_by_name["value"]
    decode, plan, encode = _value_codec(value_field)
    zero = _zero(value_field)
    key_decode = scalar_codec(entry.fields_by_name["key"])[0]

    def decode_map(msg: Any, value: Any, path: str, errs: list[FieldError]) -> None:
        if not isinstance(value, Mapping):
            mismatch(path, "object", value, errs)
            return
        target = getattr(msg, name)
        for raw_key, item in value.items():
            key_path = f"{path}[{_map_key(raw_key)}]"
            key = key_decode(_map_key(raw_key) if key_decode is decode_string else raw_key, key_path, errs)
            if key is INVALID:
                continue
            if plan is not None:
                sub = target[key]
                if item is not None:
                    plan.decode_into(sub, item, key_path, errs)
                continue
            assert decode is not None
            result = zero if item is None else decode(item, key_path, errs)
            if result is not INVALID:
                target[key] = result

    def encode_map(values: Any) -> dict[Any, Any]:
        return {key: encode(values[key]) for key in sorted(values)}

    return decode_map, encode_map
