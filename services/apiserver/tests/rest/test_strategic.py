"""Strategic merge patch rules, table-driven (pure logic: the kubectl tests exercise it end to end)."""

from __future__ import annotations

from typing import Any

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.rest import strategic
from skiff_common import errors

POD = pod_pb2.Pod.DESCRIPTOR
BASE: dict[str, Any] = {
    "metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["x"]},
    "spec": {
        "containers": [
            {"name": "a", "image": "i1", "env": [{"name": "E", "value": "1"}], "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "i2"},
        ],
        "tolerations": [{"key": "t1"}],
    },
}

CASES = [
    ("labels merge, null deletes", {"metadata": {"labels": {"b": "2", "a": None}}}, "metadata.labels", {"b": "2"}),
    (
        "containers merge by name",
        {"spec": {"containers": [{"name": "b", "image": "i3"}]}},
        "spec.containers",
        [BASE["spec"]["containers"][0], {"name": "b", "image": "i3"}],
    ),
    (
        "a new container is appended",
        {"spec": {"containers": [{"name": "c", "image": "i4"}]}},
        "spec.containers",
        [*BASE["spec"]["containers"], {"name": "c", "image": "i4"}],
    ),
    (
        "$patch: delete removes one item",
        {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}},
        "spec.containers",
        [{"name": "b", "image": "i2"}],
    ),
    (
        "env merges by name inside a merged container",
        {"spec": {"containers": [{"name": "a", "env": [{"name": "F", "value": "2"}]}]}},
        "spec.containers[0].env",
        [{"name": "E", "value": "1"}, {"name": "F", "value": "2"}],
    ),
    (
        "lists without a strategy are replaced",
        {"spec": {"tolerations": [{"key": "t2"}]}},
        "spec.tolerations",
        [{"key": "t2"}],
    ),
    ("primitive merge lists are unions", {"metadata": {"finalizers": ["y", "x"]}}, "metadata.finalizers", ["x", "y"]),
    (
        "$deleteFromPrimitiveList",
        {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
        "metadata.finalizers",
        [],
    ),
    (
        "$patch: replace on a list",
        {"spec": {"containers": [{"name": "z", "image": "i9"}, {"$patch": "replace"}]}},
        "spec.containers",
        [{"name": "z", "image": "i9"}],
    ),
    (
        "$setElementOrder is accepted",
        {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}},
        "spec.containers",
        BASE["spec"]["containers"],
    ),
]


def at(doc: Any, path: str) -> Any:
    for part in path.replace("]", "").replace("[", ".").split("."):
        doc = doc[int(part)] if part.isdigit() else doc[part]
    return doc


@pytest.mark.parametrize(("name", "patch", "path", "expected"), CASES, ids=[c[0] for c in CASES])
def test_strategic_merge(name: str, patch: dict[str, Any], path: str, expected: Any) -> None:
    result = strategic.apply(BASE, patch, POD)
    assert at(result, path) == expected
    assert BASE["spec"]["containers"][0]["image"] == "i1"  # the original is not modified


def test_pod_template_in_a_deployment_uses_the_same_rules() -> None:
    doc = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "i1"}, {"name": "b"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "i2"}]}}}}
    out = strategic.apply(doc, patch, apps_pb2.Deployment.DESCRIPTOR)
    assert out["spec"]["template"]["spec"]["containers"] == [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]


def test_status_conditions_merge_by_type() -> None:
    doc = {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]}}
    out = strategic.apply(doc, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, POD)
    assert out["status"]["conditions"] == [
        {"type": "Ready", "status": "True"},
        {"type": "PodScheduled", "status": "True"},
    ]


def test_merge_item_without_its_key_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest, match='merge key "name"'):
        strategic.apply(BASE, {"spec": {"containers": [{"image": "x"}]}}, POD)
