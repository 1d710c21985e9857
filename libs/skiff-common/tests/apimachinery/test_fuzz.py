"""Property tests: from_dict never fails with anything but errors.Invalid, and valid objects round-trip.

Two generators: arbitrary JSON-like values (what a hostile client can send), and schema-guided objects
built from the protobuf descriptors, where every field is either a valid value or (for the fuzz test)
junk, so the fuzzing reaches deep into nested messages instead of stopping at the first unknown key.
"""

from __future__ import annotations

import base64
import functools
import os
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import FieldDescriptor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skiff_common import errors
from skiff_common.apimachinery import kinds
from skiff_common.apimachinery.convert import dump_json, dump_yaml, from_dict, load_manifests, to_dict

# SKIFF_FUZZ_EXAMPLES=20000 for a long fuzzing run; the default keeps the suite quick.
SETTINGS = settings(
    max_examples=int(os.environ.get("SKIFF_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
EDGE_NUMBERS = st.sampled_from([2**31, -(2**31) - 1, 2**63, 2**64, 10**400, 1e308, -0.0, 3.0]) | st.just(5000).map(
    lambda digits: -(10**digits)
)  # built lazily: the strategy's repr must not print it
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | EDGE_NUMBERS
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=3),
    max_leaves=20,
)
KIND = st.sampled_from(kinds.ALL_KINDS)
QUANTITY = st.builds(
    lambda n, suffix: f"{n}{suffix}",
    st.integers(0, 10**6),
    st.sampled_from(["", "m", "k", "M", "Ki", "Mi", "Gi", "e3", "n"]),
) | st.sampled_from([0, 1, 0.5, 2.25, "0.5", "1.5Gi", "-1"])
TIMESTAMP = st.datetimes(datetime(1900, 1, 1), datetime(9999, 1, 1), timezones=st.just(UTC)).map(
    lambda d: d.isoformat().replace("+00:00", "Z")
)
_T = FieldDescriptor
_INT_RANGES = {_T.TYPE_INT32: 31, _T.TYPE_INT64: 63}
SPECIAL = {
    "skiff.api.meta.v1.Quantity": QUANTITY,
    "skiff.api.meta.v1.IntOrString": st.integers(-(2**31), 2**31 - 1) | TEXT,
    "google.protobuf.Timestamp": TIMESTAMP,
    "google.protobuf.Struct": st.dictionaries(  # any JSON object (RawExtension) a double-based Struct holds
        TEXT,
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers(-(2**53), 2**53)
            | st.floats(allow_nan=False, allow_infinity=False)
            | TEXT,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
            max_leaves=10,
        ),
        max_size=3,
    ),
}


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    if field.type in _INT_RANGES:
        bits = _INT_RANGES[field.type]
        return st.integers(-(2**bits), 2**bits - 1)
    if field.type == _T.TYPE_BOOL:
        return st.booleans()
    if field.type == _T.TYPE_BYTES:
        return st.binary(max_size=8).map(lambda b: base64.b64encode(b).decode())
    assert field.type == _T.TYPE_STRING, field.full_name
    return TEXT


def _element(field: FieldDescriptor, junk: bool) -> st.SearchStrategy[Any]:
    if field.message_type is None:
        value = _scalar(field)
    elif field.message_type.full_name in SPECIAL:
        value = SPECIAL[field.message_type.full_name]
    else:
        name = field.message_type.full_name
        value = st.deferred(lambda: message_strategy(name, junk))
    return value | JSON if junk else value


def _field(field: FieldDescriptor, junk: bool) -> st.SearchStrategy[Any]:
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        return st.dictionaries(TEXT, _element(value_field, junk), max_size=2)
    if field.is_repeated:
        return st.lists(_element(field, junk), max_size=2)
    return _element(field, junk)


_DESCRIPTORS: dict[str, Any] = {}


@functools.cache
def message_strategy(full_name: str, junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    descriptor = _DESCRIPTORS[full_name]
    optional = {f.json_name: _field(f, junk) for f in descriptor.fields if f.name not in ("api_version", "kind")}
    for f in descriptor.fields:
        if f.message_type is not None:
            _DESCRIPTORS.setdefault(f.message_type.full_name, f.message_type)
    strategy = st.fixed_dictionaries({}, optional=optional)
    if junk:
        strategy = strategy | st.dictionaries(st.text(max_size=8), JSON, max_size=2)
    return strategy


def object_strategy(junk: bool) -> st.SearchStrategy[dict[str, Any]]:
    def build(info: kinds.KindInfo) -> st.SearchStrategy[dict[str, Any]]:
        _DESCRIPTORS.setdefault(info.message.DESCRIPTOR.full_name, info.message.DESCRIPTOR)
        body = message_strategy(info.message.DESCRIPTOR.full_name, junk)
        return body.map(lambda d: {"apiVersion": info.api_version, "kind": info.kind, **d})

    return KIND.flatmap(build)


@SETTINGS
@given(data=JSON, info=KIND)
def test_arbitrary_json_only_raises_invalid(data: Any, info: kinds.KindInfo) -> None:
    for message_type in (None, info.message):
        try:
            from_dict(data, message_type)
        except errors.Invalid as exc:
            assert exc.errors and all(e.path and e.reason for e in exc.errors)


@SETTINGS
@given(data=object_strategy(junk=True))
def test_schema_guided_junk_only_raises_invalid(data: dict[str, Any]) -> None:
    try:
        obj = from_dict(data)
    except errors.Invalid as exc:
        assert exc.errors
    else:
        assert from_dict(to_dict(obj)) == obj


@SETTINGS
@given(data=object_strategy(junk=False))
def test_valid_objects_round_trip(data: dict[str, Any]) -> None:
    obj = from_dict(data)
    encoded = to_dict(obj)
    assert from_dict(encoded) == obj
    assert to_dict(from_dict(encoded)) == encoded
    assert load_manifests(dump_yaml(obj)) == [obj]
    assert load_manifests(dump_json(obj)) == [obj]
    assert kinds.unpack(kinds.pack(obj)) == obj


@SETTINGS
@given(text=st.text(max_size=200))
def test_load_manifests_only_raises_invalid(text: str) -> None:
    try:
        load_manifests(text)
    except errors.Invalid:
        pass


@SETTINGS
@given(data=st.dictionaries(st.text(max_size=12), st.text(max_size=20) | st.integers() | st.booleans(), max_size=4))
def test_yaml_dump_reads_back_exactly(data: dict[str, Any]) -> None:
    from skiff_common.apimachinery._yaml import dump, load_all

    assert load_all(dump(data)) == [data]


@SETTINGS
@given(data=JSON, info=KIND)
def test_yaml_of_arbitrary_objects_only_raises_invalid(data: Any, info: kinds.KindInfo) -> None:
    import yaml

    doc = {"apiVersion": info.api_version, "kind": info.kind, "spec": data, "metadata": data}
    try:
        text = yaml.safe_dump(doc)
    except (yaml.YAMLError, ValueError):  # the dumper's own limits (e.g. huge ints) are not ours
        return
    try:
        load_manifests(text)
    except errors.Invalid as exc:
        assert str(exc)
