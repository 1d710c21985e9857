"""Encryption at rest on real etcd: Secrets are ciphertext in etcd (read directly, no apiserver in the
way), plaintext through the API and the watch cache; keys rotate (first writes, all read) and a rewrite
moves every Secret to the current key; every provider of Kubernetes' EncryptionConfiguration."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
import yaml
from apiserver_testlib import create, get, uniq
from skiff.api.core.v1 import config_pb2
from skiff_apiserver.encryption.config import parse
from skiff_apiserver.encryption.providers import PROVIDERS, Key
from skiff_apiserver.encryption.rewrite import rewrite
from skiff_apiserver.encryption.transformer import Transformer
from skiff_apiserver.storage import codec
from skiff_apiserver.storage.etcd import EtcdClient
from skiff_common import errors

PLAIN = b"hunter2-do-not-store-me"


def _key(size: int = 32) -> str:
    return base64.b64encode(os.urandom(size)).decode()


def _config(tmp: Path, *providers: dict) -> str:
    path = tmp / f"enc-{uniq()}.yaml"
    body = {
        "apiVersion": "apiserver.config.k8s.io/v1",
        "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": list(providers)}],
    }
    path.write_text(yaml.safe_dump(body))
    return str(path)


def _secret(name: str) -> config_pb2.Secret:
    s = config_pb2.Secret()
    s.metadata.name, s.metadata.namespace = name, "default"
    s.data["password"] = PLAIN
    return s


async def _raw(etcd, api, name: str, resource: str = "secrets") -> bytes:
    """The value as etcd holds it, read by a client of our own that knows no key."""
    client = EtcdClient([etcd.endpoint])
    try:
        kv, _ = await client.get(f"{api.app.cfg.etcd_prefix}/{resource}/default/{name}".encode())
        assert kv is not None
        return kv.value
    finally:
        await client.close()


@pytest.mark.parametrize(("provider", "size"), [("aesgcm", 32), ("aesgcm", 16), ("aescbc", 32), ("secretbox", 32)])
async def test_secrets_are_ciphertext_in_etcd(etcd, server_factory, tmp_path, provider: str, size: int) -> None:
    cfg = _config(tmp_path, {provider: {"keys": [{"name": "key1", "secret": _key(size)}]}}, {"identity": {}})
    api = await server_factory(encryption_provider_config=cfg)
    name = uniq("s")
    await create(api.stub, _secret(name))
    raw = await _raw(etcd, api, name)
    assert raw.startswith(f"k8s:enc:{provider}:v1:key1:".encode())
    assert PLAIN not in raw and b"password" not in raw
    assert (await get(api.stub, "secrets", name)).data["password"] == PLAIN
    cache = api.app.caches["secrets"]
    assert any(o.data["password"] == PLAIN for o in cache.objects.values())  # the watch decrypts too
    cm = config_pb2.ConfigMap()
    cm.metadata.name, cm.metadata.namespace = name, "default"
    cm.data["k"] = "visible"
    await create(api.stub, cm)
    assert b"visible" in await _raw(etcd, api, name, "configmaps")  # only the configured resources


async def test_rotation_and_rewrite(etcd, server_factory, tmp_path) -> None:
    k1 = {"name": "key1", "secret": _key()}
    k2 = {"name": "key2", "secret": _key()}
    first = await server_factory(encryption_provider_config=_config(tmp_path, {"aesgcm": {"keys": [k1]}}))
    old, plain = uniq("old"), uniq("plain")
    await create(first.stub, _secret(old))
    # written before encryption was on: identity reads it
    client = EtcdClient([etcd.endpoint])
    prefix = first.app.cfg.etcd_prefix
    key = f"{prefix}/secrets/default/{plain}".encode()
    await client.create(key, codec.encode(_secret(plain)))
    # rotate: key2 writes, key1 still reads, identity reads what predates encryption
    cfg2 = _config(tmp_path, {"aesgcm": {"keys": [k2, k1]}}, {"identity": {}})
    second = await server_factory(encryption_provider_config=cfg2, etcd_prefix=prefix)
    assert (await get(second.stub, "secrets", old)).data["password"] == PLAIN
    new = uniq("new")
    await create(second.stub, _secret(new))
    assert (await _raw(etcd, second, new)).startswith(b"k8s:enc:aesgcm:v1:key2:")
    transformer = second.app.client.transformer
    client.transformer = transformer
    done, current = await rewrite(client, transformer)  # type: ignore[arg-type]
    assert done == 2 and current >= 1
    for name in (old, plain, new):
        raw = await _raw(etcd, second, name)
        assert raw.startswith(b"k8s:enc:aesgcm:v1:key2:") and PLAIN not in raw
    assert (await rewrite(client, transformer))[0] == 0  # type: ignore[arg-type]
    await client.close()
    # key1 is gone now: everything still reads under key2 alone
    third = await server_factory(
        encryption_provider_config=_config(tmp_path, {"aesgcm": {"keys": [k2]}}), etcd_prefix=prefix
    )
    for name in (old, plain, new):
        assert (await get(third.stub, "secrets", name)).data["password"] == PLAIN


def test_providers_round_trip_and_bind_the_key() -> None:
    for name, cls in PROVIDERS.items():
        if name == "identity":
            continue
        p = cls([Key("k", os.urandom(32))])
        sealed = p.encrypt(b"/registry/secrets/ns/a", PLAIN)
        assert sealed.startswith(f"k8s:enc:{name}:v1:k:".encode()) and PLAIN not in sealed
        t = Transformer("/registry", parse({"kind": "EncryptionConfiguration", "resources": []}))
        t.by_prefix = [(b"/registry/secrets/", (p,))]
        assert t.from_storage(b"/registry/secrets/ns/a", sealed) == PLAIN
        if name == "aesgcm":  # the etcd key is authenticated: a value moved to another key does not open
            with pytest.raises(errors.InternalError, match="cannot decrypt"):
                t.from_storage(b"/registry/secrets/ns/b", sealed)


@pytest.mark.parametrize(
    ("providers", "message"),
    [
        ([{"aesgcm": {"keys": [{"name": "k", "secret": base64.b64encode(b"short").decode()}]}}],
         "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: aesgcm keys must be 16, 24, 32 bytes, got 5"),
        ([{"aescbc": {"keys": []}}], "resources[0].providers[0].aescbc.keys: Required value"),
        ([{"rot13": {}}], "resources[0].providers[0].rot13: Unsupported value"),
        ([{"secretbox": {"keys": [{"name": "k", "secret": "!!"}]}}],
         "secretbox.keys[0].secret: Invalid value: must be base64"),
    ],
)  # fmt: skip
def test_bad_configuration_names_the_field(providers: list, message: str) -> None:
    with pytest.raises(errors.Invalid) as info:
        parse({"kind": "EncryptionConfiguration", "resources": [{"resources": ["secrets"], "providers": providers}]})
    assert message in str(info.value.errors[0])
