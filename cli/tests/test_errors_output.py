"""Errors read as kubectl's do, and never as a traceback: the gRPC path's wording (kept for the verbs
that still speak gRPC), and the REST path's, compared line for line with real kubectl."""

from __future__ import annotations

from pathlib import Path

from kube_fixture import Kube
from skiff_cli.kube.errors import status_text
from skiff_cli.main import describe_error
from skiff_common.errors import FieldError, Invalid, NotFound


def test_grpc_errors_use_kubectls_wording() -> None:
    assert describe_error(NotFound('pods "x" not found')) == 'Error from server (NotFound): pods "x" not found'
    one = Invalid('Pod "web" is invalid', [FieldError("spec.containers[0].image", "Required value")])
    assert describe_error(one) == 'The Pod "web" is invalid: spec.containers[0].image: Required value'


def test_status_objects_read_as_kubectl_prints_them() -> None:
    status = {
        "reason": "Invalid",
        "message": "x",
        "details": {
            "kind": "Pod",
            "name": "web",
            "causes": [{"field": "spec.containers", "message": "Required value"}],
        },
    }
    assert status_text(status, 422) == 'The Pod "web" is invalid: spec.containers: Required value'
    status["details"]["causes"].append({"field": "metadata.name", "message": "Invalid value"})  # type: ignore[index]
    assert status_text(status, 422) == (
        'The Pod "web" is invalid: \n* spec.containers: Required value\n* metadata.name: Invalid value'
    )
    assert status_text({"reason": "Conflict", "message": "m"}, 409) == "Error from server (Conflict): m"


def same_error(kube: Kube, *args: str) -> str:
    ours, theirs = kube.skiff(*args), kube.kubectl(*args)
    assert (ours.code, ours.out) == (theirs.code, theirs.out) == (1, "")
    assert ours.err == theirs.err, f"skiff: {ours.err!r}\nkubectl: {theirs.err!r}"
    return ours.err


def test_server_errors_match_kubectl(kube: Kube) -> None:
    ns = kube.namespace()
    assert same_error(kube, "get", "pod", "nope", "-n", ns) == 'Error from server (NotFound): pods "nope" not found\n'
    kube.ok("create", "configmap", "cm", "-n", ns)
    same_error(kube, "create", "configmap", "cm", "-n", ns)
    same_error(kube, "get", "deployments.apps", "missing", "-n", ns)


def test_user_errors_match_kubectl(kube: Kube, tmp_path: Path) -> None:
    assert same_error(kube, "get", "foos") == 'error: the server doesn\'t have a resource type "foos"\n'
    same_error(kube, "apply", "-f", str(tmp_path / "absent.yaml"))
    empty = tmp_path / "empty"
    empty.mkdir()
    same_error(kube, "apply", "-f", str(empty))


def test_unreachable_server_is_one_line_with_a_hint(kube: Kube, tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(kube.config.read_text().replace(kube.url, "http://127.0.0.1:1"))
    ours = kube.skiff("--kubeconfig", str(config), "get", "pods")
    theirs = kube.kubectl("--kubeconfig", str(config), "get", "pods")
    assert ours.code == theirs.code == 1
    expected = "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
    assert expected in theirs.err
    assert ours.err.startswith(expected) and "skiff up" in ours.err and ours.err.count("\n") == 1


def test_missing_and_broken_kubeconfig(kube: Kube, tmp_path: Path) -> None:
    r = kube.skiff("--kubeconfig", str(tmp_path / "none"), "get", "pods")
    assert (r.code, r.err) == (1, f"error: stat {tmp_path / 'none'}: no such file or directory\n")
    assert r.err == kube.kubectl("--kubeconfig", str(tmp_path / "none"), "get", "pods").err
    r = kube.skiff("--kubeconfig", str(tmp_path), "get", "pods")
    assert r.code == 1 and "is a directory" in r.err and r.err.count("\n") == 1
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    r = kube.skiff("--kubeconfig", str(bad), "get", "pods")
    assert r.code == 1 and r.err.startswith(f'error: error loading config file "{bad}"') and r.err.count("\n") == 1
