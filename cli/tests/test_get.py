"""`skiff get` prints what kubectl 1.33 prints, byte for byte, for the same objects on the same server:
tables (one kind, several, `all`, -A, wide, --show-labels, -L, --sort-by, --no-headers), names, JSON,
YAML, JSONPath, custom columns; and `-w` prints the changes as they happen."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kube_fixture import Kube


@pytest.fixture(scope="module")
def ns(kube: Kube) -> str:
    name = kube.namespace()
    kube.ok("create", "deployment", "web", "--image", "nginx:1.25", "--replicas", "2", "-n", name)
    kube.ok("create", "deployment", "api", "--image", "busybox", "-n", name)
    kube.ok("create", "service", "clusterip", "web", "--tcp", "80:8080", "-n", name)
    kube.ok("create", "configmap", "settings", "--from-literal", "a=1", "-n", name)
    kube.ok("label", "deploy", "web", "tier=front", "-n", name)
    return name


def same(kube: Kube, *args: str) -> str:
    """Both print the same; ages may tick between the two runs, so a mismatch is retried a few times."""
    for _ in range(5):
        ours, theirs = kube.skiff(*args), kube.kubectl(*args)
        if (ours.code, ours.out, ours.err) == (theirs.code, theirs.out, theirs.err):
            return ours.out
    assert ours.out == theirs.out, f"skiff {args}:\n{ours.out}\nkubectl:\n{theirs.out}"
    assert (ours.code, ours.err) == (theirs.code, theirs.err)
    return ours.out


@pytest.mark.parametrize(
    "args",
    [
        ["get", "deployments"],
        ["get", "deploy", "web"],
        ["get", "deploy", "web", "api"],
        ["get", "deploy/web", "svc/web"],
        ["get", "deploy,svc,cm"],
        ["get", "all"],
        ["get", "deploy", "-o", "wide"],
        ["get", "deploy", "--show-labels"],
        ["get", "deploy", "-L", "tier,app"],
        ["get", "deploy", "--sort-by", "{.metadata.name}"],
        ["get", "deploy", "--no-headers"],
        ["get", "deploy", "-l", "tier=front"],
        ["get", "deploy", "-o", "name"],
        ["get", "deploy,svc", "-o", "name"],
        ["get", "deploy", "-o", "jsonpath={.items[*].metadata.name}"],
        ["get", "deploy", "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.replicas}{"\\n"}{end}'],
        ["get", "deploy", "-o", 'jsonpath={.items[?(@.metadata.name=="web")].spec.template.spec.containers[0].image}'],
        ["get", "deploy", "-o", "custom-columns=NAME:.metadata.name,IMAGE:.spec.template.spec.containers[*].image"],
        ["get", "deploy", "-o", "go-template={{range .items}}{{.metadata.name}} {{end}}"],
        ["get", "cm", "settings", "-o", "yaml"],
        ["get", "pods"],
        ["get", "pod", "absent"],
        ["get", "svc", "web", "-o", "jsonpath={.spec.ports[0].targetPort}"],
    ],
)
def test_prints_what_kubectl_prints(kube: Kube, ns: str, args: list[str]) -> None:
    same(kube, *args, "-n", ns)


def test_across_namespaces_and_cluster_scoped(kube: Kube, ns: str) -> None:
    out = same(kube, "get", "deploy", "-A")
    assert out.startswith("NAMESPACE ") and f"\n{ns} " in out
    assert same(kube, "get", "namespaces").startswith("NAME ")
    same(kube, "get", "ns", ns, "-o", "wide")


def test_raw(kube: Kube) -> None:
    assert json.loads(kube.ok("get", "--raw", "/version")) == json.loads(kube.kubectl("get", "--raw", "/version").out)
    assert json.loads(kube.ok("get", "--raw", "/api/v1/namespaces/default"))["metadata"]["name"] == "default"


def test_json_is_the_object(kube: Kube, ns: str) -> None:
    ours = kube.ok("get", "deploy", "web", "-n", ns, "-o", "json")
    assert json.loads(ours) == json.loads(kube.kubectl("get", "deploy", "web", "-n", ns, "-o", "json").out)
    listed = json.loads(kube.ok("get", "deploy", "-n", ns, "-o", "json"))
    assert listed["kind"] == "List" and {i["kind"] for i in listed["items"]} == {"Deployment"}


def test_watch_prints_each_change(kube: Kube, ns: str) -> None:
    env = {**os.environ, "KUBECONFIG": str(kube.config)}
    skiff = str(Path(sys.executable).parent / "skiff")
    proc = subprocess.Popen(
        [skiff, "get", "cm", "-w", "-n", ns], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["NAME", "DATA", "AGE"]
        assert proc.stdout.readline().split()[:2] == ["settings", "1"]
        kube.ok("create", "configmap", "later", "--from-literal", "x=1", "--from-literal", "y=2", "-n", ns)
        assert proc.stdout.readline().split()[:2] == ["later", "2"]
        kube.ok("delete", "configmap", "later", "-n", ns)
        line = proc.stdout.readline()
        assert line.split()[:2] == ["later", "2"], repr(line)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert "Traceback" not in err, err
