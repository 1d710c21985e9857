"""load_manifests: multi-document YAML/JSON, kind: List, document-indexed errors, kubectl's YAML dialect."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.core.v1 import config_pb2, pod_pb2
from skiff_common import errors
from skiff_common.apimachinery._yaml import dump, load_all
from skiff_common.apimachinery.convert import dump_yaml, load_manifests

CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"


def _names(objs: list[Any]) -> list[str]:
    return [o.metadata.name for o in objs]


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = "---\n" + CM.format(name="a") + "---\n\n---\n" + CM.format(name="b") + "...\n"
    assert _names(load_manifests(text)) == ["a", "b"]
    assert load_manifests("") == []


def test_json_document() -> None:
    [pod] = load_manifests('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}')
    assert isinstance(pod, pod_pb2.Pod) and pod.metadata.name == "p"


def test_list_is_expanded_in_order() -> None:
    text = """
apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}
- {apiVersion: v1, kind: Pod, metadata: {name: b}}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: c}
"""
    objs = load_manifests(text)
    assert _names(objs) == ["a", "b", "c"]
    assert [type(o) for o in objs] == [config_pb2.ConfigMap, pod_pb2.Pod, pod_pb2.Pod]
    assert load_manifests(dump_yaml(objs)) == objs


def test_errors_name_the_document_and_item() -> None:
    text = (
        CM.format(name="ok")
        + "---\n"
        + CM.format(name="bad")
        + "data: {k: 1}\n"
        + "---\napiVersion: v1\nkind: List\nextra: 1\nitems:\n"
        + "- {apiVersion: v1, kind: Pod, spec: {nope: 1}}\n"
        + "---\n- just\n- a list\n"
    )
    with pytest.raises(errors.Invalid) as info:
        load_manifests(text)
    assert [str(e) for e in info.value.errors] == [
        "documents[1].data[k]: Invalid value: expected string, got 1",
        "documents[2].extra: unknown field",
        "documents[2].items[0].spec.nope: unknown field",
        "documents[3]: Invalid value: expected object, got array",
    ]
    assert info.value.summary == "3 objects are invalid"


def test_single_document_errors_keep_plain_paths() -> None:
    with pytest.raises(errors.Invalid) as info:
        load_manifests(CM.format(name="x") + "data: {k: 1}\n")
    assert info.value.summary == 'ConfigMap "x" is invalid'
    assert [e.path for e in info.value.errors] == ["data[k]"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: b\n  c: d\n", "error parsing YAML: line 2: mapping values are not allowed here"),
        ("a: [1, 2\n", "error parsing YAML: line 2: expected ',' or ']', but got '<stream end>'"),
        ("kind: Pod\nkind: Pod\n", 'error parsing YAML: line 2: key "kind" already set in map'),
        ("a: 1" + "0" * 5000, "error parsing YAML: a number has too many digits"),
        ('{"a": 1' + "0" * 5000 + "}", "error parsing YAML: a number has too many digits"),
    ],
)
def test_yaml_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(errors.Invalid) as info:
        load_manifests(text)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("v: 2024-05-01T10:00:00Z", "2024-05-01T10:00:00Z"),  # no implicit timestamps
        ("v: 2024-05-01", "2024-05-01"),
        ("v: 10:30", "10:30"),  # no sexagesimal numbers
        ("v: 1e3", 1000.0),  # go-yaml float syntax
        ("v: 1.5", 1.5),
        ("v: 0x1F", 31),
        ("v: 010", 8),
        ("v: yes", True),  # YAML 1.1 booleans, as in go-yaml v2
        ("v: off", False),
        ("v: ~", None),
        ("v: '1'", "1"),
    ],
)
def test_yaml_dialect(text: str, value: Any) -> None:
    assert load_all(text) == [{"v": value}]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("1", 'v: "1"\n'),
        ("true", 'v: "true"\n'),
        ("yes", 'v: "yes"\n'),
        ("1e3", 'v: "1e3"\n'),
        ("2024-05-01T10:00:00Z", 'v: "2024-05-01T10:00:00Z"\n'),
        ("null", 'v: "null"\n'),
        ("", 'v: ""\n'),
        ("a: b", 'v: "a: b"\n'),
        ("two\nlines\n", "v: |\n  two\n  lines\n"),
        ("plain text", "v: plain text\n"),
        ("x" * 200, "v: " + "x" * 200 + "\n"),
    ],
)
def test_yaml_output_quotes_like_kubectl(value: str, text: str) -> None:
    assert dump({"v": value}) == text
    assert load_all(text) == [{"v": value}]
