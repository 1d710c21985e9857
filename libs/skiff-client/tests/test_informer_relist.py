"""The informer relists after Expired: a watch cache too small to replay the gap forces it, and the
handlers still see every add and delete that happened while the informer was away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from skiff.api.core.v1 import config_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_client import ApiClient, Informer
from skiff_cluster_fixture import Etcd

pytestmark = pytest.mark.etcd


@pytest.fixture
async def small_cache_client(etcd: Etcd) -> AsyncIterator[ApiClient]:
    from skiff_apiserver.app import ApiServerApp
    from skiff_apiserver.config import ApiServerConfig

    cfg = ApiServerConfig(listen="127.0.0.1:0", etcd_endpoints=[etcd.endpoint], watch_cache_size=5)
    app = ApiServerApp(cfg)
    port = await app.start()
    client = ApiClient.connect(f"127.0.0.1:{port}")
    try:
        yield client
    finally:
        await client.close()
        await app.stop(0)


def cm(name: str) -> config_pb2.ConfigMap:
    return config_pb2.ConfigMap(
        api_version="v1", kind="ConfigMap", metadata=meta_pb2.ObjectMeta(name=name, namespace="default")
    )


async def test_relist_after_expired_reports_missed_changes(small_cache_client: ApiClient) -> None:
    client = small_cache_client
    keep, doomed = f"keep-{uuid.uuid4().hex[:4]}", f"doomed-{uuid.uuid4().hex[:4]}"
    await client.create(cm(keep))
    await client.create(cm(doomed))
    inf: Informer[config_pb2.ConfigMap] = Informer(client, config_pb2.ConfigMap, "default")
    deleted: list[str] = []
    added: list[str] = []
    inf.add_handler(on_add=lambda o: added.append(o.metadata.name), on_delete=lambda o: deleted.append(o.metadata.name))
    task = asyncio.create_task(inf.run())
    await asyncio.wait_for(inf.wait_synced(), 10)
    task.cancel()  # the informer goes away ...
    await asyncio.gather(task, return_exceptions=True)
    stale_rv = inf.resource_version
    await client.delete(config_pb2.ConfigMap, doomed, "default")
    fresh = [f"new-{i}-{uuid.uuid4().hex[:4]}" for i in range(12)]  # ... longer than the cache reaches
    for name in fresh:
        await client.create(cm(name))
    task = asyncio.create_task(inf.run())  # resumes from stale_rv -> Expired -> relist
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while not (doomed in deleted and set(fresh) <= set(added)):
            assert loop.time() < deadline, (deleted, added)
            await asyncio.sleep(0.05)
        assert inf.store.get(f"default/{doomed}") is None
        assert inf.store.get(f"default/{keep}") is not None
        assert int(inf.resource_version) > int(stale_rv)
        assert inf.list_count == 2  # the gap was not replayable: it relisted
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
