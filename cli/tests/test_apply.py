"""`skiff apply` as kubectl's client-side apply: the patch it computes, and the command against a real
apiserver on a real etcd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff_cli.clientconfig import ClientConfig, save_client_config
from skiff_cli.lastapplied import LAST_APPLIED, applied_form, apply_patch, last_applied
from skiff_cli.main import build_parser
from skiff_client import ApiClient
from skiff_cluster_fixture import Cluster


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


async def skiff_apply(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(text)
    args = build_parser().parse_args(["apply", "-f", str(manifest)])
    assert await args.run(args) == 0
    return capsys.readouterr().out.strip()


async def test_apply_creates_configures_deletes_removed_fields_and_keeps_others(
    apiserver: Cluster,
    client: ApiClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SKIFFCONFIG", str(save_client_config(ClientConfig(server=apiserver.target), tmp_path / "c")))
    first = MANIFEST.format(extra_label=", tier: front", replicas=2)
    assert await skiff_apply(tmp_path, first, capsys) == "replicaset/web created"
    assert await skiff_apply(tmp_path, first, capsys) == "replicaset/web unchanged"

    # Another writer's field, never in a manifest, must survive the next apply.
    rs = await client.get(apps_pb2.ReplicaSet, "web", "default")
    rs.metadata.annotations["owner"] = "someone-else"
    await client.update(rs)

    second = MANIFEST.format(extra_label="", replicas=3)
    assert await skiff_apply(tmp_path, second, capsys) == "replicaset/web configured"
    rs = await client.get(apps_pb2.ReplicaSet, "web", "default")
    assert dict(rs.metadata.labels) == {"app": "web"}  # tier was in the last manifest: deleted
    assert rs.spec.replicas == 3
    assert rs.metadata.annotations["owner"] == "someone-else"
    assert json.loads(rs.metadata.annotations[LAST_APPLIED])["metadata"]["labels"] == {"app": "web"}
