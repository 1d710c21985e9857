"""Validation primitives: Kubernetes' rules and wording."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from skiff.api.meta.v1 import meta_pb2
from skiff_common.apimachinery.intstr import int_or_string
from skiff_common.apimachinery.validation import (
    validate_annotations,
    validate_dns1035_label,
    validate_dns1123_label,
    validate_dns1123_subdomain,
    validate_int_or_string_percent,
    validate_label_key,
    validate_label_value,
    validate_labels,
    validate_object_meta,
    validate_port,
    validate_quantity,
)
from skiff_common.errors import FieldError

Validator = Callable[[str, str], list[FieldError]]
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "
    "regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


@pytest.mark.parametrize(
    ("validator", "value", "ok"),
    [
        (validate_dns1123_subdomain, "web", True),
        (validate_dns1123_subdomain, "web.shop-1.example", True),
        (validate_dns1123_subdomain, "0web", True),
        (validate_dns1123_subdomain, "a" * 253, True),
        (validate_dns1123_subdomain, "a" * 254, False),
        (validate_dns1123_subdomain, "Web", False),
        (validate_dns1123_subdomain, "web_1", False),
        (validate_dns1123_subdomain, "-web", False),
        (validate_dns1123_subdomain, "web.", False),
        (validate_dns1123_subdomain, "web..x", False),
        (validate_dns1123_subdomain, "", False),
        (validate_dns1123_label, "web-1", True),
        (validate_dns1123_label, "1-web", True),
        (validate_dns1123_label, "a" * 63, True),
        (validate_dns1123_label, "a" * 64, False),
        (validate_dns1123_label, "web.shop", False),
        (validate_dns1123_label, "web-", False),
        (validate_dns1035_label, "web-1", True),
        (validate_dns1035_label, "1web", False),
        (validate_label_key, "app", True),
        (validate_label_key, "app.kubernetes.io/name", True),
        (validate_label_key, "My_Key.v1", True),
        (validate_label_key, "example.com/" + "k" * 63, True),
        (validate_label_key, "example.com/" + "k" * 64, False),
        (validate_label_key, "/name", False),
        (validate_label_key, "example.com/", False),
        (validate_label_key, "Example.com/name", False),
        (validate_label_key, "a/b/c", False),
        (validate_label_key, "-app", False),
        (validate_label_key, "app key", False),
        (validate_label_key, "", False),
        (validate_label_value, "", True),
        (validate_label_value, "Web_1.x-y", True),
        (validate_label_value, "v" * 63, True),
        (validate_label_value, "v" * 64, False),
        (validate_label_value, "-web", False),
        (validate_label_value, "web/x", False),
        (validate_label_value, "wéb", False),
    ],
)
def test_name_rules(validator: Validator, value: str, ok: bool) -> None:
    problems = validator(value, "f")
    assert (problems == []) is ok, problems
    assert all(p.path == "f" and p.reason == "Invalid value" for p in problems)


def test_message_text_matches_kubernetes() -> None:
    assert [str(e) for e in validate_dns1123_subdomain("Web", "metadata.name")] == [
        f'metadata.name: Invalid value: "Web": {SUBDOMAIN_MSG}'
    ]
    assert str(validate_dns1123_label("a" * 64, "metadata.namespace")[0]) == (
        f'metadata.namespace: Invalid value: "{"a" * 64}": must be no more than 63 characters'
    )
    assert [e.detail for e in validate_label_key("/x", "k")] == ['"/x": prefix part must be non-empty']


def test_validate_labels_reports_keys_and_values() -> None:
    problems = validate_labels({"ok": "fine", "bad key": "x", "k": "bad value"}, "metadata.labels")
    assert [(e.path, e.detail.split(":")[0]) for e in problems] == [
        ("metadata.labels", '"bad key"'),
        ("metadata.labels", '"bad value"'),
    ]


def test_annotations() -> None:
    assert validate_annotations({"Example.com/Note": "x" * 1000, "description": ""}, "a") == []
    assert validate_annotations({"bad/key/x": ""}, "a")[0].path == "a"
    big = {"k": "x" * (256 * 1024)}
    assert [str(e) for e in validate_annotations(big, "metadata.annotations")] == [
        "metadata.annotations: Too long: must have at most 262144 bytes"
    ]
    assert validate_annotations({"k": "x" * (256 * 1024 - 1)}, "a") == []


def _meta(**fields: object) -> meta_pb2.ObjectMeta:
    return meta_pb2.ObjectMeta(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("meta", "namespaced", "expected"),
    [
        (_meta(name="web", namespace="shop"), True, []),
        (_meta(name="node-1"), False, []),
        (_meta(generate_name="web-", namespace="shop"), True, []),
        (_meta(namespace="shop"), True, ["metadata.name: Required value: name or generateName is required"]),
        (_meta(name="web"), True, ["metadata.namespace: Required value"]),
        (_meta(name="n", namespace="shop"), False, ["metadata.namespace: Forbidden: not allowed on this type"]),
        (_meta(name="web", namespace="Shop"), True, ["metadata.namespace"]),
        (_meta(name="Web", namespace="shop"), True, ["metadata.name"]),
        (_meta(generate_name="Web-", namespace="shop"), True, ["metadata.generateName"]),
        (
            _meta(name="w", namespace="s", generation=-1),
            True,
            ["metadata.generation: Invalid value: -1: must be greater than or equal to 0"],
        ),
        (_meta(name="w", namespace="s", labels={"a": "-"}), True, ["metadata.labels"]),
        (_meta(name="w", namespace="s", annotations={"a/b/c": ""}), True, ["metadata.annotations"]),
        (_meta(name="w", namespace="s", finalizers=["ok.io/f", "bad/f/x"]), True, ["metadata.finalizers[1]"]),
        (
            _meta(name="w", namespace="s", owner_references=[meta_pb2.OwnerReference(api_version="apps/v1")]),
            True,
            [
                'metadata.ownerReferences[0].kind: Invalid value: "": kind must not be empty',
                'metadata.ownerReferences[0].name: Invalid value: "": name must not be empty',
                'metadata.ownerReferences[0].uid: Invalid value: "": uid must not be empty',
            ],
        ),
        (
            _meta(
                name="w",
                namespace="s",
                owner_references=[
                    meta_pb2.OwnerReference(api_version="v1", kind="K", name=n, uid="u", controller=True) for n in "ab"
                ],
            ),
            True,
            [
                "metadata.ownerReferences: Invalid value: Only one reference can have Controller set to true. "
                'Found "true" in references for a, b'
            ],
        ),
    ],
)
def test_object_meta(meta: meta_pb2.ObjectMeta, namespaced: bool, expected: list[str]) -> None:
    problems = validate_object_meta(meta, namespaced=namespaced)
    assert len(problems) == len(expected)
    for problem, want in zip(problems, expected, strict=True):
        assert str(problem) == want or problem.path == want


def test_object_meta_custom_name_validator() -> None:
    meta = _meta(name="web.x", namespace="s")
    assert validate_object_meta(meta, namespaced=True) == []
    assert [e.path for e in validate_object_meta(meta, namespaced=True, name_validator=validate_dns1123_label)] == [
        "metadata.name"
    ]


@pytest.mark.parametrize(
    ("port", "ok"), [(1, True), (80, True), (65535, True), (0, False), (65536, False), (-1, False)]
)
def test_port(port: int, ok: bool) -> None:
    problems = validate_port(port, "spec.ports[0].port")
    assert (problems == []) is ok
    if not ok:
        assert problems[0].detail == f"{port}: must be between 1 and 65535, inclusive"


@pytest.mark.parametrize(
    ("value", "non_negative", "detail"),
    [
        ("1Gi", True, None),
        (meta_pb2.Quantity(value="250m"), True, None),
        ("-1", True, '"-1": must be greater than or equal to 0'),
        ("-1", False, None),
        ("1Gx", True, "quantities must match"),
        ("", True, "must not be empty"),
    ],
)
def test_quantity(value: str | meta_pb2.Quantity, non_negative: bool, detail: str | None) -> None:
    problems = validate_quantity(value, "q", non_negative=non_negative)
    if detail is None:
        assert problems == []
    else:
        assert len(problems) == 1 and detail in problems[0].detail


@pytest.mark.parametrize(
    ("value", "max_percent", "detail"),
    [
        (int_or_string(0), None, None),
        (int_or_string(3), None, None),
        (int_or_string("25%"), None, None),
        (int_or_string("100%"), 100, None),
        (int_or_string("101%"), 100, '"101%": must not be greater than 100%'),
        (int_or_string(-1), None, "-1: must be greater than or equal to 0"),
        (int_or_string("25"), None, "a valid percent string must be a numeric string followed by an ending '%'"),
        (int_or_string("x%"), None, "a valid percent string"),
    ],
)
def test_int_or_percent(value: meta_pb2.IntOrString, max_percent: int | None, detail: str | None) -> None:
    problems = validate_int_or_string_percent(value, "maxSurge", max_percent=max_percent)
    if detail is None:
        assert problems == []
    else:
        assert len(problems) == 1 and detail in problems[0].detail
