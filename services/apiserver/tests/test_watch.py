"""Watch: from now (current objects first), from a revision, expired, bookmarks, selectors, many watchers,
slow watchers, timeouts."""

from __future__ import annotations

import asyncio

import grpc
from apiserver_testlib import WatchStream, create, expect_error, pack, pod, uniq, unpack
from skiff.apiserver.v1 import apiserver_pb2 as pb


async def test_watch_from_now_sends_current_objects_then_changes(api) -> None:
    a = await create(api.stub, pod(uniq("a")))
    w = WatchStream(api.stub, resource="pods", namespace="default")
    etype, obj = await w.next()
    assert (etype, obj.metadata.name) == ("ADDED", a.metadata.name)
    b = await create(api.stub, pod(uniq("b")))
    etype, obj = await w.next()
    assert (etype, obj.metadata.name) == ("ADDED", b.metadata.name)
    b.metadata.labels["x"] = "1"
    await api.stub.Update(pb.UpdateRequest(object=pack(b)))
    etype, obj = await w.next()
    assert etype == "MODIFIED" and obj.metadata.labels["x"] == "1"
    await api.stub.Delete(pb.DeleteRequest(resource="pods", namespace="default", name=b.metadata.name))
    etype, obj = await w.next()
    assert etype == "DELETED" and obj.metadata.name == b.metadata.name
    w.cancel()


async def test_watch_from_revision_replays_exactly_what_happened_after(api) -> None:
    first = await create(api.stub, pod(uniq("r1")))
    names = [uniq("r") for _ in range(3)]
    for n in names:
        await create(api.stub, pod(n))
    w = WatchStream(api.stub, resource="pods", resource_version=first.metadata.resource_version)
    events = await w.take(3)
    assert [(t, o.metadata.name) for t, o in events] == [("ADDED", n) for n in names]
    revs = [int(o.metadata.resource_version) for _, o in events]
    assert revs == sorted(revs) and revs[0] > int(first.metadata.resource_version)
    w.cancel()


async def test_watch_too_old_revision_is_expired(server_factory) -> None:
    api = await server_factory(watch_cache_size=5)
    first = await create(api.stub, pod(uniq("e")))
    for _ in range(8):
        await create(api.stub, pod(uniq("e")))
    await asyncio.sleep(0)  # the cache applies events asynchronously; the ring must have moved on
    for _ in range(100):
        if api.app.caches["pods"].oldest > int(first.metadata.resource_version):
            break
        await asyncio.sleep(0.05)
    w = WatchStream(api.stub, resource="pods", resource_version=first.metadata.resource_version)
    with __import__("pytest").raises(grpc.aio.AioRpcError) as info:
        await w.next()
    assert info.value.code() == grpc.StatusCode.OUT_OF_RANGE
    assert "too old resource version" in info.value.details()


async def test_watch_bookmarks(api) -> None:
    p = await create(api.stub, pod(uniq("bm")))
    w = WatchStream(api.stub, resource="pods", resource_version=p.metadata.resource_version, allow_watch_bookmarks=True)
    etype, obj = await w.next()
    assert etype == "BOOKMARK"
    assert int(obj.metadata.resource_version) >= int(p.metadata.resource_version)
    assert obj.metadata.name == ""
    w.cancel()


async def test_watch_label_selector_turns_transitions_into_added_and_deleted(api) -> None:
    p = await create(api.stub, pod(uniq("sel"), labels={"app": "web"}))
    w = WatchStream(api.stub, resource="pods", label_selector="app=web,tier!=db")
    assert (await w.next())[0] == "ADDED"
    p.metadata.labels["tier"] = "db"
    p = unpack((await api.stub.Update(pb.UpdateRequest(object=pack(p)))).object)
    etype, obj = await w.next()
    assert etype == "DELETED" and obj.metadata.labels["tier"] == "db"
    del p.metadata.labels["tier"]
    await api.stub.Update(pb.UpdateRequest(object=pack(p)))
    etype, _ = await w.next()
    assert etype == "ADDED"
    other = await create(api.stub, pod(uniq("other"), labels={"app": "db"}))
    marker = await create(api.stub, pod(uniq("marker"), labels={"app": "web"}))
    etype, obj = await w.next()
    assert obj.metadata.name == marker.metadata.name  # `other` was filtered out
    assert other.metadata.name != marker.metadata.name
    w.cancel()


async def test_watch_field_selector_and_namespace(api) -> None:
    await create(api.stub, pod(uniq("n1"), node="node-a"))
    b = await create(api.stub, pod(uniq("n2"), node="node-b"))
    w = WatchStream(api.stub, resource="pods", namespace="default", field_selector="spec.nodeName=node-b")
    _, obj = await w.next()
    assert obj.metadata.name == b.metadata.name
    w.cancel()
    w2 = WatchStream(api.stub, resource="pods", namespace="kube-system")
    marker = await create(api.stub, pod(uniq("ks"), namespace="kube-system"))
    _, obj = await w2.next()
    assert obj.metadata.name == marker.metadata.name
    w2.cancel()


async def test_bad_selector_is_invalid_argument(api) -> None:
    w = WatchStream(api.stub, resource="pods", label_selector="app in (a")
    with __import__("pytest").raises(grpc.aio.AioRpcError) as info:
        await w.next()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    await expect_error(
        grpc.StatusCode.INVALID_ARGUMENT,
        api.stub.List(pb.ListRequest(resource="pods", field_selector="spec.bogus=1")),
    )


async def test_many_watchers_all_receive_every_event(api) -> None:
    from skiff.api.core.v1 import config_pb2

    def configmap(name: str) -> config_pb2.ConfigMap:
        cm = config_pb2.ConfigMap()
        cm.metadata.name = name
        cm.metadata.namespace = "default"
        return cm

    watchers = [WatchStream(api.stub, resource="configmaps", resource_version="0") for _ in range(50)]
    # A sentinel every watcher must see first (in its initial list or as an event), so that each
    # stream is established before the writes whose order is checked; a loaded machine may take a while.
    sentinel = uniq("sentinel")
    await create(api.stub, configmap(sentinel))
    for w in watchers:
        assert [o.metadata.name for _, o in await w.take(1)] == [sentinel]
    names = [uniq("cm") for _ in range(5)]
    for name in names:
        await create(api.stub, configmap(name))
    for w in watchers:
        got = [o.metadata.name for _, o in await w.take(5)]
        assert got == names
        w.cancel()


async def test_slow_watcher_is_cut_off_with_resource_exhausted(server_factory) -> None:
    api = await server_factory(watch_queue_size=50)
    slow = WatchStream(api.stub, resource="configmaps", resource_version="0")
    fast = WatchStream(api.stub, resource="configmaps", resource_version="0")
    from skiff.api.core.v1 import config_pb2

    reader = asyncio.create_task(fast.take(150))  # the fast client keeps reading throughout
    # Big objects fill the HTTP/2 window of the slow (never reading) client quickly.
    for i in range(150):
        cm = config_pb2.ConfigMap()
        cm.metadata.name = f"slow-{i}"
        cm.metadata.namespace = "default"
        cm.data["blob"] = "x" * 100_000
        await create(api.stub, cm)
        if i % 10 == 0:
            await asyncio.sleep(0.05)
    fast_names = [o.metadata.name for _, o in await reader]
    assert fast_names == [f"slow-{i}" for i in range(150)]
    code = None
    try:
        while True:
            await slow.next()
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_watch_timeout_ends_stream_ok(api) -> None:
    call = api.stub.Watch(pb.WatchRequest(resource="pods", timeout_seconds=1, resource_version="0"))
    async for _ in call:
        pass
    assert await call.code() == grpc.StatusCode.OK
