"""The ServiceAccounts controller against a real apiserver on real etcd: every namespace gets a
`default` ServiceAccount, and one deleted comes back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from skiff.api.core.v1 import namespace_pb2, serviceaccount_pb2
from skiff_client import ApiClient
from skiff_cluster_fixture import eventually
from skiff_common import errors
from skiff_controllers.app import ControllerManager

pytestmark = pytest.mark.etcd


@pytest.fixture
async def manager(client: ApiClient) -> AsyncIterator[ControllerManager]:
    m = ControllerManager(client, ["serviceaccount"])
    await m.start()
    try:
        yield m
    finally:
        await m.stop()


async def _default(client: ApiClient, ns: str) -> serviceaccount_pb2.ServiceAccount | None:
    try:
        return await client.get(serviceaccount_pb2.ServiceAccount, "default", ns)
    except errors.NotFound:
        return None


async def test_every_namespace_gets_a_default_serviceaccount(client: ApiClient, manager) -> None:
    name = f"sa-{uuid.uuid4().hex[:6]}"
    ns = namespace_pb2.Namespace(api_version="v1", kind="Namespace")
    ns.metadata.name = name
    await client.create(ns)
    first = await eventually(lambda: _default(client, name), "the default ServiceAccount")
    assert await eventually(lambda: _default(client, "kube-system"), "kube-system's")  # namespaces that predate it
    await client.delete(serviceaccount_pb2.ServiceAccount, "default", name)

    async def recreated() -> serviceaccount_pb2.ServiceAccount | None:
        sa = await _default(client, name)
        return sa if sa is not None and sa.metadata.uid != first.metadata.uid else None

    assert await eventually(recreated, "the default ServiceAccount, recreated")
