"""Watch: a stream served from the resource's watch cache.

The handler only moves events from its Watcher to the stream. When nothing happens for
`bookmark_interval` seconds and the client asked for bookmarks, it sends a BOOKMARK carrying the cache's
revision (never below the last revision sent), so a client that reconnects resumes from there instead of
relisting. Expired (OUT_OF_RANGE) and a watcher cut off for being slow (RESOURCE_EXHAUSTED) end the stream
with that status.
"""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff_common import errors

from skiff_apiserver.registry import bounds
from skiff_apiserver.registry.reads import make_filter
from skiff_apiserver.server.base import Handlers, pack, resource_of, rpc
from skiff_apiserver.storage.watcher import BOOKMARK


def _res(req: object) -> str:
    return str(req.resource)  # type: ignore[attr-defined]


def serialize(resp: pb.WatchResponse | bytes) -> bytes:
    """Watch's response serializer: events arrive pre-encoded (shared by every watcher), bookmarks not."""
    return resp if isinstance(resp, bytes) else resp.SerializeToString()


async def _send(context: grpc.aio.ServicerContext[Any, Any], resp: pb.WatchResponse | bytes) -> bool:
    """Write one response; False when the client has gone away (not an error of ours)."""
    if context.done():
        return False
    try:
        await context.write(resp)
    except Exception:  # the stream was cancelled under us (grpc raises ExecuteBatchError/RpcError here)
        if context.done() or context.cancelled():
            return False
        raise
    return True


async def caught_up(cache: Any, client: Any, rev: int, wait: float = 3.0) -> None:
    """A watch from a revision etcd has not reached waits for it a little (the write may be in flight),
    then fails as Kubernetes' does: Timeout "Too large resource version". A resource's cache revision
    moves only with that resource's events, so a revision above it (a list of another resource read
    later) is compared with etcd's current revision, read once."""
    if rev <= cache.revision:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        current = await client.current_revision()
        if rev <= current:
            return
        if loop.time() >= deadline:
            raise errors.Timeout(f"Too large resource version: {rev}, current: {current}")
        await asyncio.sleep(0.1)


class WatchHandlers(Handlers):
    @rpc("watch", _res, long_running=True)
    async def Watch(self, request: pb.WatchRequest, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        info = resource_of(request.resource)
        self.gate.check_resource("watch", info, request.namespace, field_selector=request.field_selector)
        match = make_filter(info, request.namespace, request.label_selector, request.field_selector)
        cache = self.registry.caches[info.resource]
        await caught_up(cache, self.registry.store.client, bounds.resource_version(request.resource_version) or 0)
        watcher = cache.watch(
            match, request.resource_version, self.watch_queue_size,
            request.namespace if info.namespaced else "", bookmarks=request.allow_watch_bookmarks,
        )  # fmt: skip
        last_sent = watcher.after
        # One timer for the whole stream (timeout_seconds), none per event.
        limit = asyncio.timeout(request.timeout_seconds if request.timeout_seconds > 0 else None)
        try:
            async with limit:
                while True:
                    etype, obj, shared = await watcher.next()
                    if etype == BOOKMARK:
                        last_sent = max(last_sent, cache.revision)
                        mark = info.message()
                        mark.metadata.resource_version = str(last_sent)  # type: ignore[attr-defined]
                        if not await _send(context, pb.WatchResponse(type=BOOKMARK, object=pack(mark))):
                            return
                        continue
                    last_sent = max(last_sent, int(obj.metadata.resource_version))  # type: ignore[attr-defined]
                    data = shared.get(etype) if shared is not None else None
                    if data is None:
                        data = pb.WatchResponse(type=etype, object=pack(obj)).SerializeToString()
                        if shared is not None:
                            shared[etype] = data
                    if not await _send(context, data):
                        return
        except TimeoutError:
            if not limit.expired():
                raise
            return  # timeout_seconds reached: end the stream with OK
        finally:
            watcher.close()
