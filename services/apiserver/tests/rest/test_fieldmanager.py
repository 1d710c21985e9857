"""Field ownership as pure logic (the kubectl tests in test_kubectl.py drive it end to end)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from skiff_apiserver.machinery import convert, kinds
from skiff_apiserver.rest import fieldmanager, fieldpaths, strategic

INFO = kinds.lookup_resource("deployments")
DESC = INFO.message.DESCRIPTOR
CONFIG: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d", "labels": {"a": "b"}, "finalizers": ["x/y"]},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "d"}},
        "template": {
            "metadata": {"labels": {"app": "d"}},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}], "args": ["a"]}]},
        },
    },
    "status": {"replicas": 1},
}
C = ("f:spec", "f:template", "f:spec", "f:containers", 'k:{"name":"c"}')


@pytest.mark.parametrize(
    "path",
    [
        ("f:metadata", "f:labels", "f:a"),
        ("f:metadata", "f:finalizers", 'v:"x/y"'),
        ("f:spec", "f:replicas"),
        ("f:spec", "f:selector"),  # atomic LabelSelector
        (*C, "."),
        (*C, "f:args"),  # atomic list
        (*C, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}', "f:containerPort"),
    ],
)
def test_flatten_paths(path: tuple[str, ...]) -> None:
    paths = fieldpaths.flatten(CONFIG, DESC)
    assert path in paths
    assert not any(p[0] == "f:status" for p in paths)  # status is the status subresource's
    assert fieldpaths.from_fields_v1(fieldpaths.to_fields_v1(set(paths))) == set(paths)


def test_remove_keeps_an_item_with_its_key() -> None:
    obj = copy.deepcopy(CONFIG)
    fieldpaths.remove(obj, (*C, "f:name"), DESC)  # a key field alone never goes
    fieldpaths.remove(obj, (*C, "f:image"), DESC)
    assert obj["spec"]["template"]["spec"]["containers"][0] == {
        "name": "c",
        "ports": [{"containerPort": 80}],
        "args": ["a"],
    }
    fieldpaths.remove(obj, (*C, "."), DESC)
    fieldpaths.remove(obj, ("f:metadata", "f:labels", "f:a"), DESC)
    assert obj["spec"]["template"]["spec"] == {} and "labels" not in obj["metadata"]


def test_update_takes_the_changed_fields_from_an_applier() -> None:
    obj = convert.from_dict(CONFIG, INFO.message)
    fieldmanager.write_entries(obj, fieldmanager.apply(INFO, "a", {}, obj, CONFIG, CONFIG, force=False).entries)
    live = convert.to_dict(obj)
    new = copy.deepcopy(live)
    new["spec"]["replicas"] = 7
    updated = convert.from_dict(new, INFO.message)
    fieldmanager.record_update(INFO, "kubectl-scale", live, obj, new, updated)
    entries = {e.manager: e for e in fieldmanager.read_entries(updated)}
    assert entries["kubectl-scale"].operation == "Update"
    assert entries["kubectl-scale"].paths == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in entries["a"].paths


def test_conflict_then_force() -> None:
    obj = convert.from_dict(CONFIG, INFO.message)
    fieldmanager.write_entries(obj, fieldmanager.apply(INFO, "a", {}, obj, CONFIG, CONFIG, force=False).entries)
    live = convert.to_dict(obj)
    config = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"replicas": 3}}
    with pytest.raises(fieldmanager.ApplyConflict) as err:
        fieldmanager.apply(INFO, "b", live, obj, config, strategic.apply(live, config, DESC), force=False)
    assert err.value.causes == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "a"', "field": ".spec.replicas"}
    ]
    result = fieldmanager.apply(INFO, "b", live, obj, config, strategic.apply(live, config, DESC), force=True)
    owners = {e.manager: e.paths for e in result.entries}
    assert owners["b"] == {("f:spec", "f:replicas")} and ("f:spec", "f:replicas") not in owners["a"]
