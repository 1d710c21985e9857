"""etcd failures: a 3-member cluster losing the member the apiserver talks to, and a full etcd restart,
both mid-watch. Every write must reach every watcher exactly once, in revision order."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import grpc
import pytest
from apiserver_etcd import EtcdMember, free_port, make_config, start_server, wait_healthy
from apiserver_testlib import WatchStream, create
from skiff.api.core.v1 import config_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb

pytestmark = pytest.mark.etcd


def configmap(name: str) -> config_pb2.ConfigMap:
    cm = config_pb2.ConfigMap()
    cm.metadata.name = name
    cm.metadata.namespace = "default"
    cm.data["n"] = name
    return cm


async def write_all(stub, names: list[str]) -> None:
    """Create each name, retrying through the outage; ALREADY_EXISTS on a retry means the earlier attempt
    landed (its reply was lost), which is fine: it must still be seen exactly once."""
    for name in names:
        for _ in range(200):
            try:
                await create(stub, configmap(name))
                break
            except grpc.aio.AioRpcError as exc:
                if exc.code() == grpc.StatusCode.ALREADY_EXISTS:
                    break
                await asyncio.sleep(0.1)
        else:
            raise AssertionError(f"could not write {name}")


async def collect(w: WatchStream, n: int) -> list[tuple[str, str, int]]:
    events = []
    while len(events) < n:
        etype, obj = await w.next(timeout=60)
        if etype != "BOOKMARK":
            events.append((etype, obj.metadata.name, int(obj.metadata.resource_version)))
    return events


def assert_exactly_once(events: list[tuple[str, str, int]], names: list[str]) -> None:
    assert [e[1] for e in events] == names  # nothing lost, nothing twice, in order
    assert all(e[0] == "ADDED" for e in events)
    revs = [e[2] for e in events]
    assert revs == sorted(set(revs))


@pytest.fixture
def cluster(tmp_path: Path):
    tag = uuid.uuid4().hex[:6]
    members = [EtcdMember(f"apiserver-c{tag}-{i}", tmp_path / f"m{i}", free_port(), free_port()) for i in range(3)]
    spec = ",".join(f"{m.name}=http://127.0.0.1:{m.peer_port}" for m in members)
    for m in members:
        m.cluster = spec
        m.token = f"apiserver-c{tag}"
        m.start()
    try:
        for m in members:
            wait_healthy(m.endpoint)
        yield members
    finally:
        for m in members:
            m.kill()
            shutil.rmtree(m.data_dir, ignore_errors=True)


async def test_member_killed_mid_watch_loses_and_duplicates_nothing(cluster) -> None:
    srv = await start_server(make_config([m.endpoint for m in cluster], etcd_timeout=15.0))
    try:
        w = WatchStream(srv.stub, resource="configmaps", namespace="default", resource_version="0")
        before = [f"before-{i}" for i in range(10)]
        after = [f"after-{i}" for i in range(20)]
        await write_all(srv.stub, before)
        got = await collect(w, len(before))
        cluster[0].kill()  # pick_first talks to the first endpoint: kill exactly that one
        await write_all(srv.stub, after)
        got += await collect(w, len(after))
        assert_exactly_once(got, before + after)
        # a watch resumed from the middle replays exactly the rest
        w2 = WatchStream(srv.stub, resource="configmaps", resource_version=str(got[14][2]))
        assert [e[1] for e in await collect(w2, 15)] == [e[1] for e in got[15:]]
        w.cancel()
        w2.cancel()
    finally:
        await srv.channel.close()
        await srv.app.stop(0)


async def test_etcd_restart_mid_watch(tmp_path: Path) -> None:
    m = EtcdMember(f"apiserver-r{uuid.uuid4().hex[:6]}", tmp_path / "data", free_port(), free_port())
    m.start()
    wait_healthy(m.endpoint)
    srv = await start_server(make_config([m.endpoint], etcd_timeout=15.0))
    try:
        w = WatchStream(srv.stub, resource="configmaps", namespace="default", resource_version="0")
        first = [f"one-{i}" for i in range(5)]
        await write_all(srv.stub, first)
        got = await collect(w, 5)
        m.kill()
        # While etcd is down a request fails within its own deadline instead of hanging.
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await srv.stub.Get(pb.GetRequest(resource="configmaps", namespace="default", name="one-0"), timeout=1.0)
        assert info.value.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
        m.start(new=False)
        wait_healthy(m.endpoint)
        second = [f"two-{i}" for i in range(10)]
        await write_all(srv.stub, second)
        got += await collect(w, 10)
        assert_exactly_once(got, first + second)
        w.cancel()
    finally:
        await srv.channel.close()
        await srv.app.stop(0)
        m.kill()
        shutil.rmtree(m.data_dir, ignore_errors=True)
