"""The root CA publisher against a real apiserver on real etcd: every namespace gets `kube-root-ca.crt`
with the CA the controller manager trusts; a deleted one comes back, an edited one is put right."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from skiff.api.core.v1 import config_pb2, namespace_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager
from skiff_controllers.config import ControllersConfig

pytestmark = pytest.mark.etcd

CA = "-----BEGIN CERTIFICATE-----\nnot really a certificate, the controller only copies it\n-----END CERTIFICATE-----\n"


@pytest.fixture
async def manager(client: ApiClient, tmp_path: Path) -> AsyncIterator[ControllerManager]:
    (tmp_path / "ca.crt").write_text(CA)
    m = ControllerManager(
        client, ["rootcacertpublisher"], config=ControllersConfig(tls_ca_file=str(tmp_path / "ca.crt"))
    )
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


async def _published(client: ApiClient, ns: str, uid: str = "") -> config_pb2.ConfigMap | None:
    try:
        cm = await client.get(config_pb2.ConfigMap, "kube-root-ca.crt", ns)
    except errors.NotFound:
        return None
    return cm if dict(cm.data) == {"ca.crt": CA} and cm.metadata.uid != uid else None


async def test_every_namespace_gets_the_root_ca(client: ApiClient, manager) -> None:
    name = f"ca-{uuid.uuid4().hex[:6]}"
    ns = namespace_pb2.Namespace(api_version="v1", kind="Namespace")
    ns.metadata.name = name
    await client.create(ns)
    first = await eventually(lambda: _published(client, name), "kube-root-ca.crt")
    assert await eventually(lambda: _published(client, "kube-system"), "kube-system's")  # older namespaces too

    first.data["ca.crt"] = "tampered"
    first.data["extra"] = "x"
    await client.update(first)
    assert await eventually(lambda: _published(client, name), "kube-root-ca.crt, put right")

    await client.delete(config_pb2.ConfigMap, "kube-root-ca.crt", name)
    assert await eventually(lambda: _published(client, name, first.metadata.uid), "kube-root-ca.crt, recreated")
