"""Strict decoding: every problem reported with its Kubernetes field path, all at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import config_pb2, container_pb2, pod_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_common import errors
from skiff_common.apimachinery.convert import from_dict, to_dict


def _pod(spec: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    spec = spec if spec is not None else {"containers": [{"name": "c", "image": "nginx"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec, **top}


def _container(**fields: Any) -> dict[str, Any]:
    return _pod({"containers": [{"name": "c", "image": "nginx", **fields}]})


def _errors(data: Any, message_type: Any = None) -> list[str]:
    with pytest.raises(errors.Invalid) as info:
        from_dict(data, message_type)
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_container(imagePullPolcy="Always"), "spec.containers[0].imagePullPolcy: unknown field"),
        (_container(image_pull_policy="Always"), "spec.containers[0].image_pull_policy: unknown field"),
        (_pod(extra=1), "extra: unknown field"),
        (
            _container(ports=[{"containerPort": "80"}]),
            'spec.containers[0].ports[0].containerPort: Invalid value: expected integer, got "80"',
        ),
        (
            _container(ports=[{"containerPort": 80.5}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: expected integer, got 80.5",
        ),
        (
            _container(ports=[{"containerPort": True}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: expected integer, got true",
        ),
        (
            _container(ports=[{"containerPort": 2**31}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: 2147483648: out of range for a 32-bit integer",
        ),
        (
            _pod() | {"metadata": {"name": "p", "generation": 2**63}},
            "metadata.generation: Invalid value: 9223372036854775808: out of range for a 64-bit integer",
        ),
        (
            _container(env=[{"name": "PORT", "value": 8080}]),
            "spec.containers[0].env[0].value: Invalid value: expected string, got 8080",
        ),
        (_container(tty="yes"), 'spec.containers[0].tty: Invalid value: expected boolean, got "yes"'),
        (_container(command="sleep 1"), 'spec.containers[0].command: Invalid value: expected array, got "sleep 1"'),
        (_container(command=["sleep", 1]), "spec.containers[0].command[1]: Invalid value: expected string, got 1"),
        (_container(resources=[]), "spec.containers[0].resources: Invalid value: expected object, got array"),
        (
            _container(resources={"limits": {"cpu": "1Gx"}}),
            'spec.containers[0].resources.limits[cpu]: Invalid value: "1Gx": quantities must match the regular '
            "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        (
            _container(resources={"limits": {"cpu": True}}),
            "spec.containers[0].resources.limits[cpu]: Invalid value: expected quantity, got true",
        ),
        (
            _container(livenessProbe={"tcpSocket": {"port": 1.5}}),
            "spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: expected integer or string, got 1.5",
        ),
        (
            _container(livenessProbe={"tcpSocket": {"port": 10**40}}),
            "spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: 10000000000000000000000000000000...: "
            "out of range for a 32-bit integer",
        ),
        (
            _container(resources={"limits": {"cpu": 10**400}}),
            "spec.containers[0].resources.limits[cpu]: Invalid value: a very large integer: quantity too large",
        ),
        (
            _container(resources={"limits": {"cpu": 10**5000}}),
            "spec.containers[0].resources.limits[cpu]: Invalid value: a very large integer: quantity too large",
        ),
        (
            _container(ports=[{"containerPort": -(10**5000)}]),
            "spec.containers[0].ports[0].containerPort: Invalid value: a very large integer: "
            "out of range for a 32-bit integer",
        ),
        (
            _container(livenessProbe={"tcpSocket": {"port": [80]}}),
            "spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: expected integer or string, got array",
        ),
        (
            _pod(status={"startTime": "yesterday"}),
            'status.startTime: Invalid value: "yesterday": expected an RFC 3339 timestamp like "2024-05-01T10:00:00Z"',
        ),
        (
            _pod(status={"startTime": "2024-13-01T00:00:00Z"}),
            'status.startTime: Invalid value: "2024-13-01T00:00:00Z": expected an RFC 3339 timestamp like '
            '"2024-05-01T10:00:00Z"',
        ),
        (
            _pod(status={"startTime": 1714557600}),
            "status.startTime: Invalid value: expected RFC 3339 timestamp, got 1714557600",
        ),
        (
            _pod() | {"metadata": {"name": "p", "labels": {"app": 1}}},
            "metadata.labels[app]: Invalid value: expected string, got 1",
        ),
        (_pod() | {"metadata": "p"}, 'metadata: Invalid value: expected object, got "p"'),
        (
            {"apiVersion": "v1", "kind": "Secret", "data": {"k": "not base64!"}},
            "data[k]: Invalid value: illegal base64 data",
        ),
        (
            {"apiVersion": "v1", "kind": "Pod", "spec": {"volumes": [{"name": "v", "emptyDir": []}]}},
            "spec.volumes[0].emptyDir: Invalid value: expected object, got array",
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_single_error(data: dict[str, Any], expected: str) -> None:
    assert _errors(data) == [expected]


def test_all_errors_are_collected_in_document_order() -> None:
    data = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labelz": {}},
        "spec": {
            "replicas": "3",
            "template": {
                "spec": {
                    "containers": [
                        {"name": "a", "imagePullPolcy": "Always"},
                        {
                            "name": "b",
                            "ports": [{"containerPort": "http"}],
                            "resources": {"requests": {"memory": "1Gx"}},
                        },
                    ]
                }
            },
        },
    }
    with pytest.raises(errors.Invalid) as info:
        from_dict(data)
    assert [e.path for e in info.value.errors] == [
        "metadata.labelz",
        "spec.replicas",
        "spec.template.spec.containers[0].imagePullPolcy",
        "spec.template.spec.containers[1].ports[0].containerPort",
        "spec.template.spec.containers[1].resources.requests[memory]",
    ]
    assert info.value.summary == 'Deployment "web" is invalid'
    assert str(info.value).startswith('Deployment "web" is invalid: [metadata.labelz: unknown field, ')


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"kind": "Pod"}, ["apiVersion: Required value"]),
        ({"apiVersion": "v1"}, ["kind: Required value"]),
        (
            {"apiVersion": "v1", "kind": "Widget"},
            ['kind: Unsupported value: no matches for kind "Widget" in version "v1"'],
        ),
        (
            {"apiVersion": "apps/v2", "kind": "Deployment"},
            ['apiVersion: Unsupported value: "apps/v2": kind Deployment is served as apps/v1'],
        ),
        (["not", "an", "object"], ["<root>: Invalid value: expected object, got array"]),
        (
            {"apiVersion": 1, "kind": ["Pod"]},
            ["apiVersion: Invalid value: expected string, got 1", "kind: Invalid value: expected string, got array"],
        ),
    ],
)
def test_type_meta_errors(data: Any, expected: list[str]) -> None:
    assert _errors(data) == expected


def test_explicit_type_must_agree_with_type_meta() -> None:
    assert _errors({"apiVersion": "v1", "kind": "Service"}, pod_pb2.Pod) == [
        'kind: Invalid value: "Service": must be "Pod"'
    ]
    assert from_dict({"metadata": {"name": "x"}}, pod_pb2.Pod).metadata.name == "x"
    assert from_dict({"containers": []}, pod_pb2.PodSpec) == pod_pb2.PodSpec()


def test_null_means_unset_and_null_items_are_zero_values() -> None:
    obj = from_dict(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": None,
            "spec": {
                "replicas": None,
                "paused": None,
                "template": {"spec": {"containers": [None, {"name": "c", "command": [None, "x"], "env": None}]}},
                "selector": {"matchLabels": {"a": None}},
            },
        },
        apps_pb2.Deployment,
    )
    assert not obj.HasField("metadata")
    assert not obj.spec.HasField("replicas")
    assert obj.spec.template.spec.containers[0] == container_pb2.Container()
    assert list(obj.spec.template.spec.containers[1].command) == ["", "x"]
    assert dict(obj.spec.selector.match_labels) == {"a": ""}


@pytest.mark.parametrize(
    ("value", "canonical"),
    [
        (1, "1"),
        (0.5, "500m"),
        ("0.5", "500m"),
        (" 2 ", "2"),
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        (1e3, "1k"),
        ("1e3", "1e3"),
    ],
)
def test_quantities_are_stored_canonically(value: Any, canonical: str) -> None:
    data = {"limits": {"cpu": value}}
    obj = from_dict(data, container_pb2.ResourceRequirements)
    assert obj.limits["cpu"].value == canonical
    assert to_dict(obj) == {"limits": {"cpu": canonical}}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00+02:00", "2024-05-01T10:00:00Z"),
        ("2024-05-01t10:00:00.250z", "2024-05-01T10:00:00.25Z"),
        ("1970-01-01T00:00:00.000000001Z", "1970-01-01T00:00:00.000000001Z"),
        ("2024-05-01T10:00:00.1234567891Z", "2024-05-01T10:00:00.123456789Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
        (datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00Z"),
        (datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T10:00:00Z"),
    ],
)
def test_timestamps(text: Any, expected: str) -> None:
    obj = from_dict({"lastTransitionTime": text}, meta_pb2.Condition)
    assert to_dict(obj) == {"lastTransitionTime": expected}


def test_int_or_string_accepts_integral_floats_and_strings() -> None:
    obj = from_dict({"maxSurge": 2.0, "maxUnavailable": "10%"}, apps_pb2.RollingUpdateDeployment)
    assert to_dict(obj) == {"maxUnavailable": "10%", "maxSurge": 2}


def test_map_keys_from_yaml_scalars_become_strings() -> None:
    obj = from_dict({"data": {2: "two", True: "yes"}}, config_pb2.ConfigMap)
    assert dict(obj.data) == {"2": "two", "true": "yes"}


def test_bytes_encode_as_base64() -> None:
    obj = config_pb2.ConfigMap(binary_data={"b": b"\x00\xff"})
    assert to_dict(obj)["binaryData"] == {"b": "AP8="}
    assert from_dict(to_dict(obj)) == config_pb2.ConfigMap(
        api_version="v1", kind="ConfigMap", binary_data={"b": b"\x00\xff"}
    )


def test_any_embeds_an_object_with_type_meta() -> None:
    from skiff.apiserver.v1 import apiserver_pb2

    data = {"object": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}}
    req = from_dict(data, apiserver_pb2.CreateRequest)
    assert req.object.type_url == "type.googleapis.com/skiff.api.core.v1.ConfigMap"
    assert to_dict(req) == data
    assert _errors({"object": {"apiVersion": "v1", "kind": "Nope"}}, apiserver_pb2.CreateRequest) == [
        'object.kind: Unsupported value: no matches for kind "Nope" in version "v1"'
    ]
    assert _errors({"object": {"apiVersion": "v1", "kind": "ConfigMap", "bogus": 1}}, apiserver_pb2.CreateRequest) == [
        "object.bogus: unknown field"
    ]


def test_lone_surrogates_are_invalid_utf8() -> None:
    data = {"metadata": {"name": "a\ud800", "labels": {"k\udfff": "v"}}}
    assert _errors(data, pod_pb2.Pod) == [
        "metadata.name: Invalid value: not valid UTF-8",
        "metadata.labels[k\udfff]: Invalid value: not valid UTF-8",
    ]
