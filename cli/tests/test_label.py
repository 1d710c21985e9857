"""`skiff label` and `skiff annotate` against a real apiserver: add, refuse to overwrite, --overwrite,
remove with `key-`, -l/--all, --list, --dry-run; kubectl's messages."""

from __future__ import annotations

import json

import pytest
from kube_fixture import Kube


@pytest.mark.parametrize(
    ("verb", "field", "past"), [("label", "labels", "labeled"), ("annotate", "annotations", "annotated")]
)
def test_set_overwrite_remove(kube: Kube, verb: str, field: str, past: str) -> None:
    ns = kube.namespace()
    kube.ok("create", "configmap", "a", "-n", ns)
    kube.ok("create", "configmap", "b", "-n", ns)
    assert kube.ok(verb, "cm", "a", "team=x", "-n", ns) == f"configmap/a {past}\n"
    r = kube.skiff(verb, "cm", "a", "team=y", "-n", ns)
    assert r.code == 1 and "'team' already has a value (x)" in r.err
    assert r.err == kube.kubectl(verb, "cm", "a", "team=y", "-n", ns).err
    assert kube.ok(verb, "cm/a", "team=y", "--overwrite", "-n", ns) == f"configmap/a {past}\n"
    assert kube.ok(verb, "cm", "a", "--list", "-n", ns) == "team=y\n"
    assert kube.ok(verb, "cm", "a", "team-", "-n", ns) == f"configmap/a {past}\n"
    assert not json.loads(kube.ok("get", "cm", "a", "-n", ns, "-o", "json"))["metadata"].get(field)
    assert kube.ok(verb, "cm", "--all", "k=v", "-n", ns) == f"configmap/a {past}\nconfigmap/b {past}\n"
    assert kube.ok(verb, "cm", "b", "k2=v", "--dry-run=client", "-n", ns) == f"configmap/b {past} (dry run)\n"
    if verb == "label":
        assert kube.ok("get", "cm", "-l", "k=v", "-n", ns, "-o", "name") == "configmap/a\nconfigmap/b\n"
