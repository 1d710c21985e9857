"""Field selectors and the selectable fields of each kind."""

from __future__ import annotations

import pytest
from skiff.api.core.v1 import config_pb2, event_pb2, node_pb2, pod_pb2
from skiff_common.apimachinery.convert import from_dict
from skiff_common.apimachinery.fields import object_fields, parse_field_selector, supported_fields

POD = from_dict(
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"nodeName": "node-1", "restartPolicy": "Always"},
        "status": {"phase": "Running", "podIP": "10.0.0.3"},
    },
    pod_pb2.Pod,
)


@pytest.mark.parametrize(
    ("text", "canonical", "matches"),
    [
        ("", "", True),
        ("metadata.name=web", "metadata.name=web", True),
        ("metadata.name==web", "metadata.name==web", True),
        ("metadata.name!=web", "metadata.name!=web", False),
        ("status.phase!=Running,spec.nodeName=node-1", "spec.nodeName=node-1,status.phase!=Running", False),
        ("spec.nodeName=node-1,metadata.namespace=shop", "metadata.namespace=shop,spec.nodeName=node-1", True),
        ("spec.schedulerName=", "spec.schedulerName=", True),  # unset reads as ""
        (" status.podIP = 10.0.0.3 ", "status.podIP=10.0.0.3", True),
        ("metadata.name=a\\,b", "metadata.name=a\\,b", False),
        ("metadata.name=a\\=b\\\\", "metadata.name=a\\=b\\\\", False),
    ],
)
def test_parse_and_match(text: str, canonical: str, matches: bool) -> None:
    selector = parse_field_selector(text)
    assert str(selector) == canonical
    assert parse_field_selector(str(selector)) == selector
    assert selector.matches(object_fields(POD)) is matches


def test_escaped_values_are_unescaped() -> None:
    assert parse_field_selector("metadata.name=a\\,b").requirements[0].value == "a,b"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("metadata.name", "invalid selector: 'metadata.name'; can't understand 'metadata.name'"),
        ("a=b=c", "invalid field selector: unescaped character ="),
        ("a=b\\x", "invalid field selector: invalid escape sequence: \\x"),
        ("=b", "missing field name"),
    ],
)
def test_parse_errors(text: str, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_field_selector(text)
    assert reason in str(info.value)


def test_supported_fields_and_check() -> None:
    assert {"spec.nodeName", "status.phase", "metadata.name"} <= supported_fields("Pod")
    assert supported_fields("ConfigMap") == {"metadata.name", "metadata.namespace"}
    parse_field_selector("spec.nodeName=x").check_supported("Pod")
    with pytest.raises(ValueError, match=r"field label not supported: spec\.nodeName"):
        parse_field_selector("spec.nodeName=x").check_supported("ConfigMap")
    assert parse_field_selector("spec.nodeName=n1,status.phase!=x").exact_value("spec.nodeName") == "n1"
    assert parse_field_selector("status.phase!=x").exact_value("status.phase") is None


def test_object_fields_per_kind() -> None:
    assert object_fields(POD)["status.phase"] == "Running"
    assert set(object_fields(POD)) == supported_fields("Pod")
    event = event_pb2.Event(reason="Pulled", type="Normal")
    event.involved_object.kind = "Pod"
    event.source.component = "kubelet"
    fields = object_fields(event)
    assert (fields["involvedObject.kind"], fields["reason"], fields["source"]) == ("Pod", "Pulled", "kubelet")
    assert object_fields(config_pb2.Secret(type="Opaque"))["type"] == "Opaque"
    node = node_pb2.Node()
    node.spec.unschedulable = True
    assert object_fields(node)["spec.unschedulable"] == "true"
    for kind_message in (POD, event, node):
        assert set(object_fields(kind_message)) == supported_fields(type(kind_message).__name__)
