"""Small builders and call helpers shared by the apiserver tests."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.protobuf import any_pb2
from google.protobuf.message import Message
from skiff.api.core.v1 import pod_pb2
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_apiserver.machinery import kinds
from skiff_common import errors


def uniq(prefix: str = "obj") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def pack(obj: Message) -> any_pb2.Any:
    return kinds.pack(obj)


def unpack(a: any_pb2.Any) -> Any:
    return kinds.unpack(a)


def pod(
    name: str,
    namespace: str = "default",
    *,
    image: str = "busybox:1.36",
    labels: dict[str, str] | None = None,
    node: str = "",
    grace: int | None = None,
) -> pod_pb2.Pod:
    p = pod_pb2.Pod()
    p.metadata.name = name
    p.metadata.namespace = namespace
    p.metadata.labels.update(labels or {})
    c = p.spec.containers.add()
    c.name = "main"
    c.image = image
    if node:
        p.spec.node_name = node
    if grace is not None:
        p.spec.termination_grace_period_seconds = grace
    return p


async def create(stub: Any, obj: Message) -> Any:
    return unpack((await stub.Create(pb.CreateRequest(object=pack(obj)))).object)


async def get(stub: Any, resource: str, name: str, namespace: str = "default", rv: str = "") -> Any:
    return unpack(
        (await stub.Get(pb.GetRequest(resource=resource, namespace=namespace, name=name, resource_version=rv))).object
    )


async def expect_error(code: grpc.StatusCode, coro: Any) -> errors.SkiffError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await coro
    assert info.value.code() == code, info.value.details()
    return errors.from_rpc_error(info.value)


class WatchStream:
    """A Watch call with a helper to read the next events with a (generous) timeout."""

    def __init__(self, stub: Any, **request: Any) -> None:
        self.call = stub.Watch(pb.WatchRequest(**request))

    async def next(self, timeout: float = 10.0) -> tuple[str, Any]:  # noqa: ASYNC109
        import asyncio

        resp = await asyncio.wait_for(self.call.read(), timeout)
        assert resp is not grpc.aio.EOF, "watch ended"
        return resp.type, unpack(resp.object)

    async def take(self, n: int, *, skip_bookmarks: bool = True) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        while len(out) < n:
            etype, obj = await self.next()
            if skip_bookmarks and etype == "BOOKMARK":
                continue
            out.append((etype, obj))
        return out

    def cancel(self) -> None:
        self.call.cancel()


async def cache_caught_up(api: Any, resource: str, rv: str | int) -> None:
    """Reads with resourceVersion "0" may be stale by design: wait until the cache has applied `rv`."""
    import asyncio

    cache = api.app.caches[resource]
    for _ in range(500):
        if cache.revision >= int(rv):
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{resource} cache never reached revision {rv}")
