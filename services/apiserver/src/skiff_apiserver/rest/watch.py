"""Watch over chunked HTTP: one JSON `{"type": ..., "object": ...}` per line, as Kubernetes streams it.

Served from the same watch cache and filters as the gRPC Watch (server/watch.py); only the framing
differs. An event's JSON line is encoded once and shared by every REST watcher (the cache's per-event
`encoded` map, under a key of its own beside the gRPC bytes). A resourceVersion the cache no longer
reaches back to is answered the Kubernetes way: HTTP 200 and one ERROR event carrying a 410 Expired
Status, which client-go and the Python client take as "relist". `kubectl get -w` asks for Tables: each
event then carries a one-row Table (column definitions only in the first).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.registry.reads import make_filter
from skiff_apiserver.rest import codec, printers
from skiff_apiserver.rest.handlers import int_param
from skiff_apiserver.rest.router import Target
from skiff_apiserver.rest.status import error_status
from skiff_apiserver.storage.watcher import BOOKMARK, Watcher
from skiff_common import errors


def _line(etype: str, obj: Any) -> bytes:
    return json.dumps({"type": etype, "object": obj}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


async def serve_watch(
    request: web.Request, target: Target, registry: Registry, queue_size: int, active: set[Watcher] | None = None
) -> web.StreamResponse:
    """`active` holds the open watchers, so a shutting-down server can end each stream cleanly (the
    terminating chunk: kubectl and client-go see a normal end, not "unexpected EOF")."""
    info = target.info
    q = request.query
    rv = q.get("resourceVersion", "")
    table = printers.wants_table(request.headers.get("Accept", ""))
    include = q.get("includeObject", "Metadata") or "Metadata"
    timeout = int_param(request, "timeoutSeconds")
    bookmarks = q.get("allowWatchBookmarks", "") in ("true", "1")
    match = make_filter(info, target.namespace, q.get("labelSelector", ""), q.get("fieldSelector", ""))
    cache = registry.caches[info.resource]
    response = web.StreamResponse(
        headers={"Content-Type": printers.TABLE_CONTENT_TYPE if table else "application/json"}
    )
    response.enable_chunked_encoding()
    try:
        watcher = cache.watch(match, rv, queue_size, target.namespace if info.namespaced else "", bookmarks=bookmarks)
    except errors.Expired as exc:
        await response.prepare(request)
        await response.write(_line("ERROR", error_status(exc)[1]))
        await response.write_eof()
        return response
    await response.prepare(request)
    if active is not None:
        active.add(watcher)
    last_sent = watcher.after
    headers = True
    limit = asyncio.timeout(timeout if timeout and timeout > 0 else None)
    try:
        async with limit:
            while True:
                try:
                    etype, obj, shared = await watcher.next()
                except (errors.TooManyRequests, errors.Expired) as exc:
                    await response.write(_line("ERROR", error_status(exc)[1]))
                    break
                except errors.Unavailable:
                    break  # the server is stopping: end the stream, the client re-watches elsewhere
                if etype == BOOKMARK:
                    last_sent = max(last_sent, cache.revision)
                    mark: dict[str, Any] = {"kind": info.kind, "apiVersion": info.api_version}
                    mark["metadata"] = {"resourceVersion": str(last_sent)}
                    await response.write(_line(BOOKMARK, mark))
                    continue
                last_sent = max(last_sent, int(obj.metadata.resource_version))  # type: ignore[attr-defined]
                if table:
                    rv = obj.metadata.resource_version  # type: ignore[attr-defined]
                    body = printers.table(info.kind, [obj], {"resourceVersion": rv}, include, headers=headers)
                    headers = False
                    await response.write(_line(etype, body))
                    continue
                key = f"json/{etype}"
                data = shared.get(key) if shared is not None else None
                if data is None:
                    data = _line(etype, codec.encode(obj))
                    if shared is not None:
                        shared[key] = data
                await response.write(data)
    except TimeoutError:
        if not limit.expired():
            raise
    except ConnectionResetError:
        pass  # the client went away
    finally:
        watcher.close()
        if active is not None:
            active.discard(watcher)
    try:
        await response.write_eof()
    except ConnectionResetError:
        pass
    return response
