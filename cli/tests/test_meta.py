"""The verbs about the API and the client: api-resources, api-versions, version, explain, auth can-i,
config (view, get-contexts, current-context, use-context, set-context), completion -- against a real
apiserver, compared with kubectl where both print the same thing."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kube_fixture import Kube


def test_api_resources_and_versions_match_kubectl(kube: Kube) -> None:
    for args in (
        ["api-versions"],
        ["api-resources", "--sort-by", "name"],
        ["api-resources", "-o", "name", "--sort-by", "name"],
        ["api-resources", "--namespaced=false", "--sort-by", "name"],
        ["api-resources", "--api-group", "apps", "--sort-by", "name"],
    ):
        ours, theirs = kube.skiff(*args), kube.kubectl(*args)
        assert ours.out == theirs.out, args


def test_version(kube: Kube) -> None:
    out = kube.ok("version")
    assert out.startswith("Client Version: v") and "\nServer Version: v" in out
    info = json.loads(kube.ok("version", "-o", "json"))
    assert info["serverVersion"] == json.loads(kube.kubectl("version", "-o", "json").out)["serverVersion"]


def test_explain(kube: Kube) -> None:
    out = kube.ok("explain", "deployments")
    assert out.startswith("GROUP:      apps\nKIND:       Deployment\nVERSION:    v1\n")
    assert "FIELDS:\n" in out and "\n  spec\t<" in out
    field = kube.ok("explain", "pods.spec.containers.image")
    assert "FIELD: image <string>" in field
    r = kube.skiff("explain", "pods.spec.nope")
    assert r.code == 1 and r.err == 'error: field "nope" does not exist\n'


def test_auth_can_i(kube: Kube) -> None:
    assert kube.ok("auth", "can-i", "create", "deployments") == "yes\n"
    assert (
        kube.ok("auth", "can-i", "get", "pods", "-n", "kube-system")
        == kube.kubectl("auth", "can-i", "get", "pods", "-n", "kube-system").out
    )


def test_config_verbs(kube: Kube, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copy(kube.config, config)
    k = ["--kubeconfig", str(config)]
    for args in (
        ["config", "get-contexts"],
        ["config", "current-context"],
        ["config", "view"],
        ["config", "view", "--minify", "-o", "json"],
    ):
        ours, theirs = kube.skiff(*k, *args), kube.kubectl(*k, *args)
        assert ours.out == theirs.out if args[-1] != "json" else json.loads(ours.out) == json.loads(theirs.out), args
    assert (
        kube.ok(
            *k, "config", "set-context", "other", "--cluster", "test", "--user", "tester", "--namespace", "kube-system"
        )
        == 'Context "other" created.\n'
    )
    assert kube.ok(*k, "config", "use-context", "other") == 'Switched to context "other".\n'
    assert kube.ok(*k, "config", "get-contexts") == kube.kubectl(*k, "config", "get-contexts").out
    # the context's namespace is now the default one
    assert (
        "NAMESPACE" not in kube.ok(*k, "get", "pods")
        and kube.skiff(*k, "get", "pods").err == "No resources found in kube-system namespace.\n"
    )
    assert kube.ok(*k, "config", "set-context", "--current", "--namespace", "default") == 'Context "other" modified.\n'
    r = kube.skiff(*k, "config", "use-context", "absent")
    assert (r.code, r.err) == (1, 'error: no context exists with the name: "absent"\n')
    assert r.err == kube.kubectl(*k, "config", "use-context", "absent").err


def test_kubeconfig_merging_and_context_flag(kube: Kube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = tmp_path / "a"
    first.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: broken\ncontexts: [{name: broken, context: {cluster: nowhere, user: u}}]\n"  # noqa: E501
        "clusters: [{name: nowhere, cluster: {server: 'http://127.0.0.1:1'}}]\nusers: [{name: u, user: {}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", f"{first}:{kube.config}")
    from skiff_cli.main import main

    def run(*args: str) -> int:
        try:
            main(list(args))
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    assert run("get", "ns", "default", "--context", "test") == 0
    assert run("get", "ns", "default") == 1  # the first file's current-context wins: the broken one


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(kube: Kube, shell: str) -> None:
    script = kube.ok("completion", shell)
    assert "rollout" in script and "selector" in script
    if shell == "bash":
        r = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
