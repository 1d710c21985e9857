"""The floor for a Python apiserver's Create on this stack (bench helper, not a product).

    python bench/apiserver_floor.py MODE LISTEN ETCD_ENDPOINT      # serves until SIGTERM

A gRPC server exposing the same ApiServer service (same CreateRequest, the same Pod packed in an Any)
whose Create does only what no apiserver can skip: decode the object (to learn its key), ONE etcd
transaction through aetcd's stubs (compare create_revision == 0, put the serialized object), and answer
with the object. No defaulting, validation, metrics, spans, logs or watch cache. Whatever this costs per
request is the ceiling for any Python apiserver on grpcio + aetcd on this machine.

Modes (which layer of grpc is the cost):
  aio       grpc.aio server on uvloop, etcd through a grpc.aio channel (the real apiserver's stack);
  aio-asyncio  the same on the standard asyncio loop;
  aio-sync  grpc.aio server on uvloop, etcd through a *sync* grpc channel called in a thread pool;
  sync      grpc sync server with a thread pool, etcd through a sync channel (no asyncio at all).
Extras for the aio modes, appended with "+" (e.g. "aio+watch+skiff"), to price one apiserver layer at a
time: "+watch" also watches the written prefix and decodes every event (what the watch cache receives);
"+opts" makes the etcd call with a deadline and wait_for_ready, as the apiserver does; "+skiff" serves
through skiff_common's create_server (its observability interceptor) with the apiserver's observability
set-up; "+gc" freezes start-up objects and collects the young generation less often; "+tput" sets
grpc.optimization_target=throughput on the server and the etcd channel; "+prewrap" applies the same
observability wrapper once at registration, on a server without interceptors; "+obsonly" only runs
skiff's observability set-up (no wrapper), to separate the set-up from the per-call layer.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from concurrent import futures
from typing import Any

import grpc
from aetcd import rpc
from skiff.apiserver.v1 import apiserver_pb2 as pb
from skiff.apiserver.v1 import apiserver_pb2_grpc
from skiff_apiserver.machinery import kinds

MODES = ("aio", "aio-asyncio", "aio-sync", "sync")


def _txn(obj: Any, value: bytes) -> rpc.TxnRequest:
    key = f"/floor/{obj.metadata.namespace}/{obj.metadata.name}".encode()
    cmp = rpc.Compare(key=key, target=rpc.Compare.CREATE, result=rpc.Compare.EQUAL, create_revision=0)
    put = rpc.RequestOp(request_put=rpc.PutRequest(key=key, value=value))
    return rpc.TxnRequest(compare=[cmp], success=[put])


def _decode(request: pb.CreateRequest) -> Any:
    return kinds.unpack(request.object)


class AioFloor(apiserver_pb2_grpc.ApiServerServicer):
    def __init__(self, etcd: str, call_opts: dict[str, Any], channel_opts: list[tuple[str, Any]]) -> None:
        self._kv = rpc.KVStub(grpc.aio.insecure_channel(etcd, options=channel_opts))
        self._opts = call_opts

    async def Create(self, request: pb.CreateRequest, context: Any) -> pb.CreateResponse:
        resp = await self._kv.Txn(_txn(_decode(request), request.object.value), **self._opts)
        if not resp.succeeded:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "exists")
        return pb.CreateResponse(object=request.object)


class AioSyncEtcdFloor(apiserver_pb2_grpc.ApiServerServicer):
    """etcd through a sync channel in a thread: the sync client's blocking call releases the GIL."""

    def __init__(self, etcd: str, pool: futures.ThreadPoolExecutor) -> None:
        self._kv = rpc.KVStub(grpc.insecure_channel(etcd))
        self._pool = pool

    async def Create(self, request: pb.CreateRequest, context: Any) -> pb.CreateResponse:
        req = _txn(_decode(request), request.object.value)
        resp = await asyncio.get_running_loop().run_in_executor(self._pool, self._kv.Txn, req)
        if not resp.succeeded:
            await context.abort(grpc.StatusCode.ALREADY_EXISTS, "exists")
        return pb.CreateResponse(object=request.object)


class SyncFloor(apiserver_pb2_grpc.ApiServerServicer):
    def __init__(self, etcd: str) -> None:
        self._kv = rpc.KVStub(grpc.insecure_channel(etcd))

    def Create(self, request: pb.CreateRequest, context: Any) -> pb.CreateResponse:
        resp = self._kv.Txn(_txn(_decode(request), request.object.value))
        if not resp.succeeded:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, "exists")
        return pb.CreateResponse(object=request.object)


def _add_prewrapped(servicer: Any, server: Any) -> None:
    """Register the service with skiff_common's observability wrapper applied to each method handler
    once, here, so the server needs no interceptor (grpc.aio runs an interceptor chain per call)."""
    from skiff_common.grpcutil._wrapping import MethodInfo, wrap_handler_with
    from skiff_common.grpcutil.server_observe import ObservabilityInterceptor

    class Capture:
        handlers: dict[str, Any] = {}

        def add_generic_rpc_handlers(self, _h: object) -> None:
            pass

        def add_registered_method_handlers(self, _name: str, handlers: dict[str, Any]) -> None:
            Capture.handlers = dict(handlers)

    apiserver_pb2_grpc.add_ApiServerServicer_to_server(servicer, Capture())
    obs = ObservabilityInterceptor()
    name = "skiff.apiserver.v1.ApiServer"
    wrapped = {}
    for method, handler in Capture.handlers.items():
        info = MethodInfo.parse(f"/{name}/{method}")

        def wrap(behavior: Any, streaming: bool, info: MethodInfo = info) -> Any:
            return obs._wrap(info, behavior, streaming)

        wrapped[method] = wrap_handler_with(handler, wrap)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, wrapped),))
    server.add_registered_method_handlers(name, wrapped)


async def _watch(etcd: str) -> None:
    """Consume etcd's watch on the floor's prefix and decode every object, like the watch cache."""
    call = rpc.WatchStub(grpc.aio.insecure_channel(etcd)).Watch()
    create = rpc.WatchCreateRequest(key=b"/floor/", range_end=b"/floor0", prev_kv=True)
    await call.write(rpc.WatchRequest(create_request=create))
    async for resp in call:
        for ev in resp.events:
            kinds.lookup_resource("pods").message.FromString(ev.kv.value)


async def serve_aio(mode: str, listen: str, etcd: str) -> None:
    extras = set(mode.split("+")[1:])
    if "gc" in extras:  # fewer cyclic-GC passes: freeze start-up objects, collect young ones less often
        import gc

        gc.freeze()
        gc.set_threshold(50_000, 20, 20)
    server_opts = [("grpc.optimization_target", "throughput")] if "tput" in extras else []
    if "skiff" in extras:
        from skiff_common.grpcutil import create_server
        from skiff_common.observability import setup_observability

        setup_observability("floor", log_level="warning", metrics_address=None)
        server = create_server("floor", options=server_opts)
    else:
        server = grpc.aio.server(options=server_opts)
    if "prewrap" in extras or "obsonly" in extras:  # skiff's observability set-up, without the interceptor
        from skiff_common.observability import setup_observability

        setup_observability("floor", log_level="warning", metrics_address=None)
    watch = asyncio.create_task(_watch(etcd)) if "watch" in extras else None
    pool = futures.ThreadPoolExecutor(max_workers=8)
    opts: dict[str, Any] = {"timeout": 10.0, "wait_for_ready": True} if "opts" in extras else {}
    servicer = AioSyncEtcdFloor(etcd, pool) if mode.startswith("aio-sync") else AioFloor(etcd, opts, server_opts)
    if "prewrap" in extras:
        _add_prewrapped(servicer, server)
    else:
        apiserver_pb2_grpc.add_ApiServerServicer_to_server(servicer, server)
    server.add_insecure_port(listen)
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    if watch is not None:
        watch.cancel()
    await server.stop(0)


def serve_sync(listen: str, etcd: str) -> None:
    # 20 threads: one per concurrent request of the bench, so the pool never queues.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=20))
    apiserver_pb2_grpc.add_ApiServerServicer_to_server(SyncFloor(etcd), server)
    server.add_insecure_port(listen)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    server.stop(0)


def main() -> None:
    mode, listen, etcd = sys.argv[1:4]
    if mode == "sync":
        serve_sync(listen, etcd)
    elif mode.startswith("aio-asyncio"):
        asyncio.run(serve_aio(mode, listen, etcd))
    elif mode.split("+")[0] in MODES:
        import uvloop

        uvloop.run(serve_aio(mode, listen, etcd))
    else:
        raise SystemExit(f"mode must be one of {', '.join(MODES)}")


if __name__ == "__main__":
    main()
