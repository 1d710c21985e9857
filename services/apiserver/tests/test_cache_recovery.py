"""The watch cache across a compaction gap, and Events expiring through their etcd lease."""

from __future__ import annotations

import asyncio

import grpc
from apiserver_testlib import WatchStream, create, get, pod
from skiff.api.core.v1 import event_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def test_cache_relists_after_compaction_and_emits_the_difference(api) -> None:
    await create(api.stub, pod("keep"))
    await create(api.stub, pod("gone"))
    last = await create(api.stub, pod("changed"))
    cache = api.app.caches["pods"]
    for _ in range(500):
        if cache.revision >= int(last.metadata.resource_version):
            break
        await asyncio.sleep(0.01)
    w = WatchStream(api.stub, resource="pods", resource_version=last.metadata.resource_version)
    await asyncio.sleep(0.2)
    # Take the cache offline, change etcd behind its back, compact the history it would need.
    assert cache._task is not None
    cache._task.cancel()
    await asyncio.gather(cache._task, return_exceptions=True)
    await api.stub.Delete(pb.DeleteRequest(resource="pods", namespace="default", name="gone"))
    changed = await get(api.stub, "pods", "changed")
    changed.metadata.labels["v"] = "2"
    await api.stub.Update(pb.UpdateRequest(object=__import__("apiserver_testlib").pack(changed)))
    await create(api.stub, pod("new"))
    await api.app.client.compact(await api.app.client.current_revision())
    cache._task = asyncio.create_task(cache._run())
    events = sorted((t, o.metadata.name) for t, o in await w.take(3))
    assert events == [("ADDED", "new"), ("DELETED", "gone"), ("MODIFIED", "changed")]
    assert sorted(o.metadata.name for o in cache.list_objects("default", lambda _o: True)) == [
        "changed",
        "keep",
        "new",
    ]
    w.cancel()


async def test_events_expire_with_their_lease(server_factory) -> None:
    api = await server_factory(event_ttl=1)
    ev = event_pb2.Event()
    ev.metadata.name = "short-lived"
    ev.metadata.namespace = "default"
    ev.involved_object.kind = "Pod"
    ev.involved_object.name = "p"
    ev.reason = "Test"
    out = await create(api.stub, ev)
    assert out.count == 1 and out.type == "Normal"
    out.count = 2  # an update keeps the lease
    await api.stub.Update(pb.UpdateRequest(object=__import__("apiserver_testlib").pack(out)))
    for _ in range(300):
        try:
            await get(api.stub, "events", "short-lived")
        except grpc.aio.AioRpcError as exc:
            assert exc.code() == grpc.StatusCode.NOT_FOUND
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the event never expired")
