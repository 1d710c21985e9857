"""The client side of failures: error mapping without a server round trip, and an informer that
survives its apiserver going away and coming back on the same address."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from skiff.api.core.v1 import config_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, Informer
from skiff_client.api import _status_error
from skiff_cluster_fixture import Etcd, free_port
from skiff_common import errors

pytestmark = pytest.mark.etcd


@pytest.mark.parametrize(
    ("code", "exc"),
    [
        (410, errors.Expired),
        (404, errors.NotFound),
        (409, errors.Conflict),
        (429, errors.TooManyRequests),
        (500, errors.InternalError),
    ],
)
def test_watch_error_status_mapping(code: int, exc: type[errors.SkiffError]) -> None:
    assert isinstance(_status_error(meta_pb2.Status(code=code, message="m")), exc)


async def test_bad_patch_type_is_refused_locally() -> None:
    client = ApiClient.connect("127.0.0.1:1")  # never dialled: the argument is checked first
    try:
        with pytest.raises(errors.BadRequest, match="patch_type"):
            await client.patch("configmaps", "x", "default", {}, patch_type="strategic")
        with pytest.raises(errors.NotFound, match="resource type"):
            await client.get("nosuchthings", "x")
    finally:
        await client.close()


async def test_unreachable_apiserver_is_unavailable() -> None:
    client = ApiClient.connect(f"127.0.0.1:{free_port()}", timeout=5)
    try:
        with pytest.raises((errors.Unavailable, errors.Timeout)):
            await client.get(config_pb2.ConfigMap, "x", "default")
    finally:
        await client.close()


async def test_informer_survives_apiserver_restart(etcd: Etcd) -> None:
    from skiff_apiserver.app import ApiServerApp
    from skiff_apiserver.config import ApiServerConfig

    port = free_port()
    cfg = ApiServerConfig(listen=f"127.0.0.1:{port}", etcd_endpoints=[etcd.endpoint])
    first = ApiServerApp(cfg)
    await first.start()
    client = ApiClient.connect(f"127.0.0.1:{port}", timeout=10, wait_for_ready=True)
    inf: Informer[config_pb2.ConfigMap] = Informer(client, config_pb2.ConfigMap, "default")
    task = asyncio.create_task(inf.run())
    second = None
    try:
        await asyncio.wait_for(inf.wait_synced(), 10)
        await first.stop(0)
        await asyncio.sleep(0.5)  # the watch breaks; the informer backs off and retries
        second = ApiServerApp(cfg)
        await second.start()
        name = f"after-{uuid.uuid4().hex[:6]}"
        await client.create(
            config_pb2.ConfigMap(
                api_version="v1",
                kind="ConfigMap",
                metadata=meta_pb2.ObjectMeta(name=name, namespace="default"),
            )
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while inf.store.get(f"default/{name}") is None:
            assert loop.time() < deadline, "informer did not recover"
            await asyncio.sleep(0.1)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        if second is not None:
            await second.stop(0)
