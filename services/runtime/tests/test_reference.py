"""Reference normalisation must match Docker's (distribution/reference ParseNormalizedNamed + TagNameOnly)."""

from __future__ import annotations

import pytest
from skiff_runtime.images.reference import ReferenceError, is_image_id, normalize, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("busybox", "docker.io/library/busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest"),
        ("foo/bar:1", "docker.io/foo/bar:1"),
        ("foo/bar/baz", "docker.io/foo/bar/baz:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest"),
        ("index.docker.io/foo/bar", "docker.io/foo/bar:latest"),
        ("localhost/x", "localhost/x:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest"),
        ("localhost:5000/x:v2", "localhost:5000/x:v2"),
        ("registry.k8s.io/pause:3.9", "registry.k8s.io/pause:3.9"),
        ("quay.io/coreos/etcd", "quay.io/coreos/etcd:latest"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}"),
        (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}"),
        ("a_b-c__d/f---g.h", "docker.io/a_b-c__d/f---g.h:latest"),
        ("x.y/z", "x.y/z:latest"),
        ("Foo/bar", "Foo/bar:latest"),  # an upper-case first component is a registry host
    ],
)
def test_normalize(given: str, want: str) -> None:
    assert normalize(given) == want


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Busybox",
        "foo/Bar",
        "busybox:",
        "busybox:-x",
        "foo//bar",
        "-foo/bar",
        "busybox@sha256:abc",
        "a" * 64,
        DIGEST,
        " busybox",
        "foo/bar_",
        "host:port/x",
        "a_b.c/x",
    ],
)
def test_invalid(bad: str) -> None:
    with pytest.raises(ReferenceError):
        parse(bad)


def test_parts() -> None:
    ref = parse(f"localhost:5000/team/app:v1@{DIGEST}")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "team/app", "v1", DIGEST)
    assert ref.name == "localhost:5000/team/app"


@pytest.mark.parametrize(("text", "want"), [("a" * 64, True), (DIGEST, True), ("busybox", False), ("a" * 63, False)])
def test_is_image_id(text: str, want: bool) -> None:
    assert is_image_id(text) is want
