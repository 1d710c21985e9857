"""Pod spec validation with its memoized per-value checks: the errors are the full validators' own, on
the first call and on every later call with the same value (the memo only answers "valid?")."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import pod_pb2
from skiff_apiserver.machinery import validation
from skiff_apiserver.registry.strategies.podspec import validate_pod_spec

LONG_BAD = "9" * 70 + "x"  # longer than the memo's limit: checked without it


def spec(name: str = "main", requests: dict[str, str] | None = None, limits: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    s = pod_pb2.PodSpec()
    c = s.containers.add(name=name, image="nginx:1.25")
    for k, v in (requests or {}).items():
        c.resources.requests[k].value = v
    for k, v in (limits or {}).items():
        c.resources.limits[k].value = v
    return s


@pytest.mark.parametrize(
    ("pod_spec", "expected"),
    [
        (spec(), []),
        (spec(requests={"cpu": "100m", "memory": "64Mi"}, limits={"cpu": "1"}), []),
        (spec(name="Bad_Name"), validation.validate_dns1123_label("Bad_Name", "spec.containers[0].name")),
        (
            spec(requests={"cpu": "lots"}),
            validation.validate_quantity("lots", "spec.containers[0].resources.requests[cpu]"),
        ),
        (
            spec(limits={"memory": LONG_BAD}),
            validation.validate_quantity(LONG_BAD, "spec.containers[0].resources.limits[memory]"),
        ),
        (
            spec(requests={"cpu": "-1"}),
            validation.validate_quantity("-1", "spec.containers[0].resources.requests[cpu]"),
        ),
    ],
)
def test_errors_are_the_validators_own_every_time(pod_spec: pod_pb2.PodSpec, expected: list[object]) -> None:
    for _ in range(2):  # the second call goes through the memo
        assert validate_pod_spec(pod_spec, "spec") == expected


def test_request_above_limit_is_reported_every_time() -> None:
    s = spec(requests={"cpu": "2"}, limits={"cpu": "1"})
    for _ in range(2):
        errs = validate_pod_spec(s, "spec")
        assert [(e.path, e.reason) for e in errs] == [("spec.containers[0].resources.requests[cpu]", "Invalid value")]
        assert "must be less than or equal to cpu limit of 1" in errs[0].detail


@pytest.mark.parametrize(("size", "valid"), [("1Mi", True), ("0", True), ("-1Mi", False), ("lots", False)])
def test_empty_dir_size_limit_must_be_a_quantity(size: str, valid: bool) -> None:
    s = spec()
    s.volumes.add(name="scratch").empty_dir.size_limit.value = size
    errs = validate_pod_spec(s, "spec")
    expected = [] if valid else [("spec.volumes[0].emptyDir.sizeLimit", "Forbidden")]
    assert [(e.path, e.reason) for e in errs] == expected


@pytest.mark.parametrize("field", ["host_network", "host_pid", "host_ipc"])
def test_host_namespaces_are_forbidden_without_host_users(field: str) -> None:
    s = spec()
    s.host_users = False
    setattr(s, field, True)
    name = {"host_network": "hostNetwork", "host_pid": "hostPID", "host_ipc": "hostIPC"}[field]
    errs = validate_pod_spec(s, "spec")
    assert [(e.path, e.reason, e.detail) for e in errs] == [(f"spec.{name}", "Forbidden", "when `hostUsers` is false")]
    s.host_users = True
    assert validate_pod_spec(s, "spec") == []
