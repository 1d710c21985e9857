"""Secrets and ConfigMaps as Kubernetes stores and validates them: stringData folded into data and never
stored, Opaque by default, config keys, the 1 MiB limit, the keys each well-known Secret type needs, and
`immutable` (pure logic on the strategies; then through a real apiserver on etcd)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from apiserver_testlib import create, expect_error, get, pack, uniq, unpack
from skiff.api.core.v1 import config_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import convert, kinds
from skiff_apiserver.registry.strategies.config import MAX_SIZE, ConfigMapStrategy, SecretStrategy
from skiff_common import errors

SECRETS = SecretStrategy(kinds.lookup_resource("secrets"))
CONFIGMAPS = ConfigMapStrategy(kinds.lookup_resource("configmaps"))


def secret(**fields: Any) -> config_pb2.Secret:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}, **fields}
    obj: config_pb2.Secret = convert.from_dict(doc, config_pb2.Secret)
    SECRETS.default(obj)
    return obj


def configmap(**fields: Any) -> config_pb2.ConfigMap:
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}, **fields}
    obj: config_pb2.ConfigMap = convert.from_dict(doc, config_pb2.ConfigMap)
    return obj


def reasons(errs: list[errors.FieldError]) -> list[tuple[str, str]]:
    return [(e.path, e.reason) for e in errs]


def test_string_data_is_folded_into_data_and_wins() -> None:
    s = secret(data={"a": "b2xk", "keep": "eA=="}, stringData={"a": "new", "b": "two"})
    assert dict(s.data) == {"a": b"new", "keep": b"x", "b": b"two"}
    assert not s.string_data and s.type == "Opaque"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"stringData": {"username": "u"}, "type": "kubernetes.io/basic-auth"}, []),
        (
            {"type": "kubernetes.io/basic-auth"},
            [("data[username]", "Required value"), ("data[password]", "Required value")],
        ),
        ({"stringData": {"tls.crt": "c"}, "type": "kubernetes.io/tls"}, [("data[tls.key]", "Required value")]),
        ({"type": "kubernetes.io/ssh-auth"}, [("data[ssh-privatekey]", "Required value")]),
        (
            {"stringData": {".dockerconfigjson": "{"}, "type": "kubernetes.io/dockerconfigjson"},
            [("data[.dockerconfigjson]", "Invalid value")],
        ),
        ({"stringData": {".dockerconfigjson": "{}"}, "type": "kubernetes.io/dockerconfigjson"}, []),
        (
            {"type": "kubernetes.io/service-account-token"},
            [("metadata.annotations[kubernetes.io/service-account.name]", "Required value")],
        ),
        ({"stringData": {"a b": "x"}}, [("data[a b]", "Invalid value")]),
        ({"stringData": {"..data": "x"}}, [("data[..data]", "Invalid value")]),
        ({"stringData": {"big": "x" * (MAX_SIZE + 1)}}, [("data", "Too long")]),
        ({"stringData": {"config.yaml": "x", "KEY_NAME": "y", "key-name": "z"}}, []),
    ],
)
def test_secret_validation(fields: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert reasons(SECRETS.validate(secret(**fields))) == expected


def test_secret_update_rules() -> None:
    old = secret(stringData={"a": "1"}, immutable=True)
    assert reasons(SECRETS.validate_update(secret(stringData={"a": "1"}, immutable=True), old)) == []
    changed = secret(stringData={"a": "2"}, immutable=True)
    assert reasons(SECRETS.validate_update(changed, old)) == [("data", "Forbidden")]
    assert reasons(SECRETS.validate_update(secret(stringData={"a": "1"}), old)) == [("immutable", "Forbidden")]
    retyped = secret(stringData={"tls.crt": "c", "tls.key": "k"}, type="kubernetes.io/tls")
    assert reasons(SECRETS.validate_update(retyped, secret(stringData={"a": "1"}))) == [("type", "Invalid value")]
    legacy = config_pb2.Secret()  # stored before type was defaulted: Opaque is no change
    assert reasons(SECRETS.validate_update(secret(), legacy)) == []


def test_configmap_validation_and_immutability() -> None:
    assert reasons(CONFIGMAPS.validate(configmap(data={"a": "1"}, binaryData={"b": "eA=="}))) == []
    dup = configmap(data={"a": "1"}, binaryData={"a": "eA=="})
    assert reasons(CONFIGMAPS.validate(dup)) == [("binaryData[a]", "Invalid value")]
    assert reasons(CONFIGMAPS.validate(configmap(data={"/etc": "1"}))) == [("data[/etc]", "Invalid value")]
    old = configmap(data={"a": "1"}, immutable=True)
    assert reasons(CONFIGMAPS.validate_update(configmap(data={"a": "2"}, immutable=True), old)) == [
        ("data", "Forbidden")
    ]
    assert reasons(CONFIGMAPS.validate_update(configmap(data={"a": "2"}), configmap(data={"a": "1"}))) == []


async def test_the_apiserver_stores_string_data_as_data(api) -> None:  # type: ignore[no-untyped-def]
    name = uniq("sd")
    s = config_pb2.Secret(api_version="v1", kind="Secret")
    s.metadata.name, s.metadata.namespace = name, "default"
    s.string_data["token-id"] = "abcdef"
    created = await create(api.stub, s)
    assert dict(created.data) == {"token-id": b"abcdef"} and not created.string_data and created.type == "Opaque"
    stored = await get(api.stub, "secrets", name)
    assert dict(stored.data) == {"token-id": b"abcdef"} and not stored.string_data

    stored.immutable = True
    stored = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(stored)))).object)
    stored.string_data["token-id"] = "changed"
    err = await expect_error(grpc.StatusCode.INVALID_ARGUMENT, api.stub.Update(pb.UpdateRequest(object=pack(stored))))
    assert "field is immutable when `immutable` is set" in err.message
    assert dict((await get(api.stub, "secrets", name)).data) == {"token-id": b"abcdef"}
