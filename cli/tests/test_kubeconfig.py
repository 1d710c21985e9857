"""`skiff up`/`skiff down`'s kubeconfig edits on a temporary KUBECONFIG (never ~/.kube/config), checked
with real kubectl reading the file."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from skiff_cli import kubeconfig
from skiff_common.grpcutil import TLSConfig

TLS = TLSConfig(ca_file="/pki/ca.crt", cert_file="/pki/admin.crt", key_file="/pki/admin.key")
OTHER = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "kind-x", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "kind-x", "user": {"token": "t"}}],
    "contexts": [{"name": "kind-x", "context": {"cluster": "kind-x", "user": "kind-x"}}],
    "current-context": "kind-x",
}


@pytest.fixture
def kubeconfig_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "kube" / "config"
    monkeypatch.setenv("KUBECONFIG", f"{path}{os.pathsep}{tmp_path / 'second'}")
    return path


def test_merge_keeps_other_entries_and_remove_restores_them(kubeconfig_file: Path) -> None:
    kubeconfig_file.parent.mkdir()
    kubeconfig_file.write_text(yaml.safe_dump(OTHER))
    assert kubeconfig.merge("https://127.0.0.1:6444", TLS) == kubeconfig_file
    data = yaml.safe_load(kubeconfig_file.read_text())
    assert data["current-context"] == "skiff"
    assert {c["name"] for c in data["clusters"]} == {"kind-x", "skiff"}
    skiff = next(c for c in data["clusters"] if c["name"] == "skiff")["cluster"]
    assert skiff == {"server": "https://127.0.0.1:6444", "certificate-authority": "/pki/ca.crt"}
    assert stat.S_IMODE(kubeconfig_file.stat().st_mode) == 0o600
    kubeconfig.merge("https://127.0.0.1:7000", TLS)  # again: refreshed, not duplicated
    data = yaml.safe_load(kubeconfig_file.read_text())
    assert [c["name"] for c in data["contexts"]].count("skiff") == 1

    kubeconfig.remove()
    data = yaml.safe_load(kubeconfig_file.read_text())
    assert [c["name"] for c in data["clusters"]] == ["kind-x"] and data["current-context"] == ""


def test_kubectl_reads_the_merged_context(kubeconfig_file: Path) -> None:
    kubectl = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.33")
    if not kubectl.exists():
        pytest.skip("kubectl 1.33 is not installed")
    kubeconfig.merge("https://127.0.0.1:6444", TLS)
    env = {**os.environ, "KUBECONFIG": str(kubeconfig_file)}
    out = subprocess.run(
        [str(kubectl), "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server} {.users[0].name}"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert out == "https://127.0.0.1:6444 skiff-admin"
    current = subprocess.run([str(kubectl), "config", "current-context"], capture_output=True, text=True, env=env)
    assert current.stdout.strip() == "skiff"


def test_remove_without_a_file_is_a_no_op(kubeconfig_file: Path) -> None:
    assert kubeconfig.remove() is None and not kubeconfig_file.exists()
