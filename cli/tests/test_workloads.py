"""Verbs that change workloads, against a real apiserver and real controllers: scale, rollout (status,
history, undo --to-revision, restart, pause, resume), set image|env|resources, patch (three types),
replace, edit ($EDITOR, re-opened on a refusal), describe (with Events), wait, delete's flags."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest
from kube_fixture import Kube


def get(kube: Kube, ns: str, *what: str) -> dict:  # type: ignore[type-arg]
    return json.loads(kube.ok("get", *what, "-n", ns, "-o", "json"))


def eventually(check, what: str, within: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


@pytest.fixture
def ns(kube: Kube) -> str:
    return kube.namespace()


def test_scale(kube: Kube, ns: str) -> None:
    kube.ok("create", "deployment", "web", "--image", "nginx", "-n", ns)
    assert kube.ok("scale", "deploy/web", "--replicas", "3", "-n", ns) == "deployment.apps/web scaled\n"
    assert get(kube, ns, "deploy", "web")["spec"]["replicas"] == 3
    r = kube.skiff("scale", "deploy", "web", "--replicas", "1", "--current-replicas", "2", "-n", ns)
    assert (r.code, r.err) == (1, "error: Expected replicas to be 2, was 3\n")


def test_rollout_history_undo_restart_pause_resume(kube: Kube, ns: str) -> None:
    kube.ok("create", "deployment", "web", "--image", "nginx:1.0", "--replicas", "0", "-n", ns)
    out = kube.ok("rollout", "status", "deploy/web", "-n", ns, "--timeout", "60")
    assert out.splitlines()[-1] == 'deployment "web" successfully rolled out'
    assert kube.ok("set", "image", "deploy/web", "nginx=nginx:2.0", "-n", ns) == "deployment.apps/web image updated\n"
    kube.ok("rollout", "status", "deploy/web", "-n", ns, "--timeout", "60")
    history = kube.ok("rollout", "history", "deploy/web", "-n", ns)
    assert history == "deployment.apps/web \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    ours, theirs = history, kube.kubectl("rollout", "history", "deploy/web", "-n", ns).out
    assert ours == theirs
    assert (
        kube.ok("rollout", "undo", "deploy/web", "--to-revision", "1", "-n", ns) == "deployment.apps/web rolled back\n"
    )
    image = lambda: get(kube, ns, "deploy", "web")["spec"]["template"]["spec"]["containers"][0]["image"]  # noqa: E731
    assert image() == "nginx:1.0"
    assert kube.ok("rollout", "restart", "deploy/web", "-n", ns) == "deployment.apps/web restarted\n"
    annotations = get(kube, ns, "deploy", "web")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert kube.ok("rollout", "pause", "deploy/web", "-n", ns) == "deployment.apps/web paused\n"
    r = kube.skiff("rollout", "pause", "deploy/web", "-n", ns)
    assert r.code == 1 and r.err == kube.kubectl("rollout", "pause", "deploy/web", "-n", ns).err
    assert kube.ok("rollout", "resume", "deploy/web", "-n", ns) == "deployment.apps/web resumed\n"
    assert not get(kube, ns, "deploy", "web")["spec"].get("paused")


def test_set_env_and_resources(kube: Kube, ns: str) -> None:
    kube.ok("create", "deployment", "web", "--image", "nginx", "-n", ns)
    assert kube.ok("set", "env", "deploy/web", "A=1", "B=2", "-n", ns) == "deployment.apps/web env updated\n"
    kube.ok("set", "env", "deploy/web", "A-", "-n", ns)
    container = get(kube, ns, "deploy", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "B", "value": "2"}]
    out = kube.ok(
        "set", "resources", "deploy/web", "--limits", "cpu=200m,memory=256Mi", "--requests", "cpu=100m", "-n", ns
    )
    assert out == "deployment.apps/web resource requirements updated\n"
    container = get(kube, ns, "deploy", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "200m", "memory": "256Mi"}
    assert container["resources"]["requests"] == {"cpu": "100m"}


def test_patch_three_types(kube: Kube, ns: str) -> None:
    kube.ok("create", "deployment", "web", "--image", "nginx", "-n", ns)
    out = kube.ok(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:9"}]}}}}',
    )
    assert out == "deployment.apps/web patched\n"
    spec = get(kube, ns, "deploy", "web")["spec"]
    assert spec["template"]["spec"]["containers"][0]["image"] == "nginx:9"
    assert spec["template"]["spec"]["containers"][0]["name"] == "nginx"
    kube.ok("patch", "deploy", "web", "-n", ns, "--type", "merge", "-p", '{"metadata":{"labels":{"x":"y"}}}')
    kube.ok(
        "patch",
        "deploy",
        "web",
        "-n",
        ns,
        "--type",
        "json",
        "-p",
        '[{"op":"replace","path":"/spec/replicas","value":4}]',
    )
    obj = get(kube, ns, "deploy", "web")
    assert obj["metadata"]["labels"]["x"] == "y" and obj["spec"]["replicas"] == 4
    r = kube.skiff(
        "patch", "deploy", "web", "-n", ns, "--type", "json", "-p", '[{"op":"replace","path":"/nope/x","value":1}]'
    )
    assert r.code == 1 and r.err.startswith("Error from server") and r.err.count("\n") == 1


def test_replace(kube: Kube, ns: str, tmp_path: Path) -> None:
    kube.ok("create", "configmap", "cfg", "--from-literal", "a=1", "-n", ns)
    obj = get(kube, ns, "cm", "cfg")
    obj["data"] = {"b": "2"}
    del obj["metadata"]["resourceVersion"]
    (tmp_path / "cm.json").write_text(json.dumps(obj))
    assert kube.ok("replace", "-f", str(tmp_path / "cm.json"), "-n", ns) == "configmap/cfg replaced\n"
    assert get(kube, ns, "cm", "cfg")["data"] == {"b": "2"}
    out = kube.ok("replace", "--force", "-f", str(tmp_path / "cm.json"), "-n", ns)
    assert out == 'configmap "cfg" deleted\nconfigmap/cfg replaced\n'


def editor(tmp_path: Path, script: str) -> str:
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_edit_saves_and_reopens_on_refusal(
    kube: Kube, ns: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kube.ok("create", "configmap", "cfg", "--from-literal", "a=1", "-n", ns)
    monkeypatch.setenv("EDITOR", editor(tmp_path, 'sed -i \'s/a: "1"/a: "2"/\' "$1"\n'))
    assert kube.ok("edit", "cm/cfg", "-n", ns) == "configmap/cfg edited\n"
    assert get(kube, ns, "cm", "cfg")["data"] == {"a": "2"}
    # First save is refused (an unknown field); the editor sees the error and fixes it.
    script = (
        f'if grep -q "was not valid" "$1"; then sed -i "s/^bogus: 1$//" "$1"; '
        f'sed -i \'s/a: "2"/a: "3"/\' "$1"; echo seen >> {tmp_path}/reopened; else echo "bogus: 1" >> "$1"; fi\n'
    )
    monkeypatch.setenv("EDITOR", editor(tmp_path, script))
    assert kube.ok("edit", "cm", "cfg", "-n", ns) == "configmap/cfg edited\n"
    assert (tmp_path / "reopened").exists()
    assert get(kube, ns, "cm", "cfg")["data"] == {"a": "3"}
    monkeypatch.setenv("EDITOR", "true")
    assert kube.ok("edit", "cm", "cfg", "-n", ns) == "Edit cancelled, no changes made.\n"


def test_describe_shows_fields_and_events(kube: Kube, ns: str) -> None:
    kube.ok("create", "configmap", "cfg", "--from-literal", "a=1", "-n", ns)
    uid = get(kube, ns, "cm", "cfg")["metadata"]["uid"]
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "cfg.1", "namespace": ns},
             "involvedObject": {"kind": "ConfigMap", "name": "cfg", "namespace": ns, "uid": uid, "apiVersion": "v1"},
             "reason": "Checked", "message": "all good", "type": "Normal", "source": {"component": "tester"},
             "firstTimestamp": now, "lastTimestamp": now, "count": 1}  # fmt: skip
    kube.ok("create", "-f", "-", "-n", ns, input=json.dumps(event))
    out = kube.ok("describe", "cm", "cfg", "-n", ns)
    lines = out.splitlines()
    assert lines[:4] == ["Name:         cfg", f"Namespace:    {ns}", "Labels:       <none>", "Annotations:  <none>"]
    assert "API Version:  v1" in lines and "  Resource Version:" in out and "Data:" in lines
    assert lines[lines.index("Events:") + 1].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert lines[-1].split()[:2] == ["Normal", "Checked"] and lines[-1].endswith("tester  all good")
    r = kube.skiff("describe", "cm", "absent", "-n", ns)
    assert r.code == 1 and r.err == 'Error from server (NotFound): configmaps "absent" not found\n'


def test_wait_for_condition_jsonpath_and_delete(kube: Kube, ns: str) -> None:
    kube.ok("create", "deployment", "web", "--image", "nginx", "--replicas", "0", "-n", ns)
    out = kube.ok("wait", "--for=condition=Available", "deploy/web", "-n", ns, "--timeout", "60s")
    assert out == "deployment.apps/web condition met\n"
    out = kube.ok("wait", "--for=jsonpath={.spec.replicas}=0", "deploy/web", "-n", ns, "--timeout", "10s")
    assert out == "deployment.apps/web condition met\n"
    r = kube.skiff("wait", "--for=jsonpath={.spec.replicas}=5", "deploy/web", "-n", ns, "--timeout", "1s")
    assert (r.code, r.err) == (1, "error: timed out waiting for the condition on deployments.apps/web\n")
    kube.ok("create", "configmap", "gone", "-n", ns)
    kube.ok("delete", "cm", "gone", "-n", ns)
    assert kube.ok("wait", "--for=delete", "cm/gone", "-n", ns) == ""


def test_delete_by_selector_all_and_cascade(kube: Kube, ns: str) -> None:
    for name in ("a", "b", "c"):
        kube.ok("create", "configmap", name, "-n", ns)
    kube.ok("label", "cm", "a", "b", "doomed=yes", "-n", ns)
    assert kube.ok("delete", "cm", "-l", "doomed=yes", "-n", ns) == 'configmap "a" deleted\nconfigmap "b" deleted\n'
    assert kube.ok("delete", "cm", "--all", "-n", ns, "--dry-run=server") == 'configmap "c" deleted (server dry run)\n'
    assert kube.ok("delete", "cm", "--all", "-n", ns, "-o", "name") == "configmap/c\n"
    r = kube.skiff("delete", "cm", "absent", "-n", ns)
    assert r.code == 1 and r.err == kube.kubectl("delete", "cm", "absent", "-n", ns).err
    assert kube.skiff("delete", "cm", "absent", "--ignore-not-found", "-n", ns).code == 0
    kube.ok("create", "deployment", "web", "--image", "nginx", "--replicas", "0", "-n", ns)
    eventually(lambda: get(kube, ns, "rs")["items"], "the deployment's replicaset")
    kube.ok("delete", "deploy", "web", "--cascade=orphan", "-n", ns)
    assert get(kube, ns, "rs")["items"], "an orphaned replicaset stays"
    kube.ok("delete", "rs", "--all", "--grace-period", "0", "--force", "-n", ns)
