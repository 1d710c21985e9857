"""Kubernetes' protobuf envelope and wire decoding on hand-made bodies (pure logic; the kubectl tests
drive it with what kubectl really sends)."""

from __future__ import annotations

import pytest
from skiff_apiserver.rest import k8sproto
from skiff_common import errors


def field(number: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return bytes([number << 3]) + varint(payload)
    return bytes([number << 3 | 2]) + varint(len(payload)) + payload


def varint(n: int) -> bytes:
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        out += bytes([byte | (0x80 if n else 0)])
        if not n:
            return out


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return k8sproto.MAGIC + field(1, type_meta) + field(2, raw)


def test_configmap_with_labels_and_data() -> None:
    meta = field(1, b"cm") + field(11, field(1, b"app") + field(2, b"web")) + field(3, b"")
    raw = field(1, meta) + field(2, field(1, b"a") + field(2, b"1")) + field(4, 0)
    body = k8sproto.decode(envelope("v1", "ConfigMap", raw))
    assert body == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"app": "web"}},  # the empty namespace is left out, as JSON would
        "data": {"a": "1"},
        "immutable": False,
    }


def test_int_or_string_and_quantity() -> None:
    port = field(3, 80) + field(4, field(1, 1) + field(3, b"http"))
    service = field(2, field(1, port))
    assert k8sproto.decode(envelope("v1", "Service", service))["spec"]["ports"] == [{"port": 80, "targetPort": "http"}]


@pytest.mark.parametrize("api_version", ["v1", "meta.k8s.io/v1"])
def test_delete_options_as_client_go_sends_them(api_version: str) -> None:
    raw = field(1, 0) + field(4, b"Background")  # gracePeriodSeconds=0 (a pointer: sent when set)
    assert k8sproto.decode(envelope(api_version, "DeleteOptions", raw)) == {
        "apiVersion": api_version,
        "kind": "DeleteOptions",
        "gracePeriodSeconds": 0,
        "propagationPolicy": "Background",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{}", "missing the k8s"),
        (envelope("v1", "Node", b""), "not served in protobuf"),
        (k8sproto.MAGIC + bytes([0x0A, 0x05, 0x01]), "truncated"),
    ],
)
def test_bad_bodies_are_bad_requests(body: bytes, message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        k8sproto.decode(body)
