"""`skiff apply`: the patch client-side apply computes, and the command against a real apiserver (files,
folders, -R, stdin, several documents, --dry-run, --server-side, --prune)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kube_fixture import Kube
from skiff_cli.lastapplied import LAST_APPLIED, applied_form, apply_patch, last_applied


def test_patch_deletes_only_what_the_last_manifest_had() -> None:
    last = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 2, "paused": True}}
    new = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 3}}
    assert apply_patch(last, new) == {
        "metadata": {"labels": {"a": "1", "b": None}},
        "spec": {"replicas": 3, "paused": None},
    }


def test_without_a_last_manifest_the_patch_is_the_manifest() -> None:
    new = {"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "c"}]}}}}
    assert apply_patch({}, new) == new


def test_a_removed_map_is_deleted_whole_and_lists_are_replaced() -> None:
    last = {"spec": {"selector": {"matchLabels": {"x": "y"}}, "ports": [{"port": 1}, {"port": 2}]}}
    new = {"spec": {"ports": [{"port": 1}]}}
    assert apply_patch(last, new) == {"spec": {"ports": [{"port": 1}], "selector": None}}


def test_given_the_object_what_it_already_holds_is_left_out() -> None:
    last = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"replicas": 2}}
    new = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 2, "template": {"containers": [{"name": "c"}]}}}
    current = {
        "metadata": {"labels": {"a": "1", "b": "2"}, "uid": "u"},
        "spec": {"replicas": 2, "template": {"containers": [{"name": "c", "imagePullPolicy": "Always"}]}},
        "status": {"replicas": 1},
    }
    assert apply_patch(last, new, current) == {"metadata": {"labels": {"b": None}}}
    assert apply_patch(new, new, current) == {}
    assert apply_patch(new, {**new, "spec": {"replicas": 3}}, current) == {"spec": {"replicas": 3, "template": None}}


def test_applied_form_leaves_out_status_and_itself() -> None:
    manifest = {
        "kind": "Pod",
        "metadata": {"name": "p", "annotations": {LAST_APPLIED: "old", "team": "x"}},
        "status": {"phase": "Running"},
    }
    stored = json.loads(applied_form(manifest))
    assert stored == {"kind": "Pod", "metadata": {"name": "p", "annotations": {"team": "x"}}}
    assert last_applied({LAST_APPLIED: applied_form(manifest)}) == stored


@pytest.mark.parametrize("value", ["", "not json", "[1, 2]"])
def test_an_unreadable_annotation_counts_as_none(value: str) -> None:
    assert last_applied({LAST_APPLIED: value}) == {}


MANIFEST = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: web
  labels: {{app: web{extra_label}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: c, image: busybox}}]
"""


def test_apply_creates_configures_deletes_removed_fields_and_keeps_others(kube: Kube, tmp_path: Path) -> None:
    ns = kube.namespace()
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(MANIFEST.format(extra_label=", tier: front", replicas=2))
    assert kube.ok("apply", "-n", ns, "-f", str(manifest)) == "replicaset.apps/web created\n"
    assert kube.ok("apply", "-n", ns, "-f", str(manifest)) == "replicaset.apps/web unchanged\n"
    # Another writer's field, never in a manifest, must survive the next apply.
    kube.ok("annotate", "-n", ns, "rs/web", "owner=someone-else")
    manifest.write_text(MANIFEST.format(extra_label="", replicas=3))
    assert kube.ok("apply", "-n", ns, "-f", str(manifest)) == "replicaset.apps/web configured\n"
    rs = json.loads(kube.ok("get", "-n", ns, "rs", "web", "-o", "json"))
    assert rs["metadata"]["labels"] == {"app": "web"}  # tier was in the last manifest: deleted
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"]["owner"] == "someone-else"
    assert json.loads(rs["metadata"]["annotations"][LAST_APPLIED])["metadata"]["labels"] == {"app": "web"}


CM = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, labels: {{set: s}}}}\ndata: {{k: v}}\n"


def test_folders_recursion_stdin_documents_dry_run(kube: Kube, tmp_path: Path) -> None:
    ns = kube.namespace()
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.yaml").write_text(CM.format(name="a") + "---\n" + CM.format(name="b"))
    (tmp_path / "sub" / "c.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    )
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert kube.ok("apply", "-n", ns, "-f", str(tmp_path)) == "configmap/a created\nconfigmap/b created\n"
    assert "configmap/c created" in kube.ok("apply", "-n", ns, "-R", "-f", str(tmp_path))
    out = kube.ok("apply", "-n", ns, "-f", "-", "--dry-run=server", input=CM.format(name="d"))
    assert out == "configmap/d created (server dry run)\n"
    assert (
        kube.ok("apply", "-n", ns, "-f", "-", "--dry-run=client", input=CM.format(name="d"))
        == "configmap/d created (dry run)\n"
    )
    assert kube.skiff("get", "-n", ns, "cm", "d").code == 1


def test_server_side_apply_and_prune(kube: Kube, tmp_path: Path) -> None:
    ns = kube.namespace()
    out = kube.ok("apply", "-n", ns, "--server-side", "-f", "-", input=CM.format(name="ssa"))
    assert out == "configmap/ssa serverside-applied\n"
    cm = json.loads(kube.ok("get", "-n", ns, "cm", "ssa", "-o", "json"))
    assert cm["data"] == {"k": "v"} and LAST_APPLIED not in (cm["metadata"].get("annotations") or {})
    kube.ok("apply", "-n", ns, "-f", "-", input=CM.format(name="p1") + "---\n" + CM.format(name="p2"))
    out = kube.ok("apply", "-n", ns, "-f", "-", "--prune", "-l", "set=s", input=CM.format(name="p1"))
    assert out == "configmap/p1 unchanged\nconfigmap/p2 pruned\n"
    assert kube.skiff("get", "-n", ns, "cm", "p2").code == 1
    assert kube.skiff("get", "-n", ns, "cm", "ssa").code == 0  # not client-side applied: never pruned


def test_a_mistyped_field_is_named(kube: Kube) -> None:
    bad = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndatta: {k: v}\n"
    r = kube.skiff("apply", "-f", "-", input=bad)
    assert r.code == 1 and "datta" in r.err and r.err.count("\n") == 1, r.err
