"""`skiff create`: files, and each generator building the object kubectl builds (compared with kubectl's
own `--dry-run=client -o json`), created on a real apiserver; errors worded as kubectl words them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from kube_fixture import Kube


def _generated(r_out: str) -> dict:  # type: ignore[type-arg]
    obj = json.loads(r_out)
    obj.get("metadata", {}).pop("creationTimestamp", None)
    obj.get("spec", {}).get("template", {}).get("metadata", {}).pop("creationTimestamp", None)
    job = obj.get("spec", {}).get("jobTemplate", {})
    job.get("metadata", {}).pop("creationTimestamp", None)
    job.get("spec", {}).get("template", {}).get("metadata", {}).pop("creationTimestamp", None)
    return obj


GENERATORS = [
    ["namespace", "gen-ns"],
    ["deployment", "web", "--image", "nginx:1.25", "--replicas", "3", "--port", "80"],
    ["deployment", "two", "--image", "busybox", "--", "sleep", "60"],
    ["job", "once", "--image", "busybox", "--", "echo", "hi"],
    ["cronjob", "tick", "--image", "busybox", "--schedule", "*/5 * * * *"],
    ["configmap", "cfg", "--from-literal", "a=1", "--from-literal", "b=two"],
    ["secret", "generic", "sec", "--from-literal", "password=s3cret"],
    ["service", "clusterip", "svc", "--tcp", "80:8080"],
    ["service", "nodeport", "np", "--tcp", "80"],
    ["service", "clusterip", "headless", "--clusterip", "None"],
    ["service", "externalname", "ext", "--external-name", "example.invalid"],
]


@pytest.mark.parametrize("gen", GENERATORS, ids=lambda g: "-".join(g[:2]))
def test_generators_build_what_kubectl_builds(kube: Kube, gen: list[str]) -> None:
    cut = gen.index("--") if "--" in gen else len(gen)
    args = ["create", *gen[:cut], "--dry-run=client", "-o", "json", "-n", "default", *gen[cut:]]
    ours = _generated(kube.ok(*args))
    theirs = _generated(kube.kubectl(*args).out)
    assert ours == theirs


def test_generators_create_and_refuse_duplicates(kube: Kube, tmp_path: Path) -> None:
    ns = kube.namespace()
    assert kube.ok("create", "deployment", "web", "--image", "nginx", "-n", ns) == "deployment.apps/web created\n"
    assert kube.ok("create", "cm", "cfg", "--from-literal", "a=1", "-n", ns) == "configmap/cfg created\n"
    assert kube.ok("create", "job", "once", "--image", "busybox", "-n", ns) == "job.batch/once created\n"
    assert (
        kube.ok("create", "cronjob", "tick", "--image", "busybox", "--schedule", "@hourly", "-n", ns)
        == "cronjob.batch/tick created\n"
    )
    assert kube.ok("create", "job", "manual", "--from", "cronjob/tick", "-n", ns) == "job.batch/manual created\n"
    for args in (["deployment", "web", "--image", "nginx"], ["cm", "cfg"], ["job", "once", "--image", "busybox"]):
        ours, theirs = kube.skiff("create", *args, "-n", ns), kube.kubectl("create", *args, "-n", ns)
        assert (ours.code, ours.err) == (theirs.code, theirs.err) == (1, ours.err)
    (tmp_path / "k.pem").write_text("key")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(tmp_path / "c.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=t",
        ],
        check=True,
        capture_output=True,
    )
    out = kube.ok(
        "create", "secret", "tls", "tls", "--cert", str(tmp_path / "c.pem"), "--key", str(tmp_path / "k.pem"), "-n", ns
    )
    assert out == "secret/tls created\n"
    assert kube.ok("get", "secret", "tls", "-n", ns, "-o", "jsonpath={.type}") == "kubernetes.io/tls"


def test_create_from_files(kube: Kube, tmp_path: Path) -> None:
    ns = kube.namespace()
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f1}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f2}\n"
    )
    assert (
        kube.ok("create", "-f", str(tmp_path / "cm.yaml"), "-n", ns) == "configmap/f1 created\nconfigmap/f2 created\n"
    )
    r = kube.skiff("create", "-f", str(tmp_path / "cm.yaml"), "-n", ns)
    assert r.code == 1 and r.err == kube.kubectl("create", "-f", str(tmp_path / "cm.yaml"), "-n", ns).err
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: f3, namespace: elsewhere}\n"
    r = kube.skiff("create", "-f", "-", "-n", ns, input=other)
    assert r.code == 1 and "does not match the namespace" in r.err
