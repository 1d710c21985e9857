"""`pods/log`: the container's log, proxied by the apiserver to the kubelet of the pod's node, as
Kubernetes does (kubectl logs never dials a kubelet itself).

The kubelet is found the way the CLI finds it: the Node's InternalIP and its advertised kubelet port, and
it is dialled over the cluster's mutual TLS with the apiserver's own certificate. The kubelet's gRPC
ContainerLogs stream becomes a chunked text/plain body, one line per log line (`<RFC 3339 time> ` first
with `timestamps=true`), open for as long as the container runs with `follow=true`.
Query parameters: container, follow, tailLines, previous, timestamps (sinceSeconds, sinceTime and
limitBytes are not served yet: 400).
"""

from __future__ import annotations

import grpc
from aiohttp import web
from skiff.kubelet.v1 import kubelet_pb2 as kpb
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.kubelet import dial, pod_and_container
from skiff_apiserver.rest.router import Target
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig

_UNSERVED = ("sinceSeconds", "sinceTime", "limitBytes")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("true", "1")


async def serve_logs(
    request: web.Request, target: Target, registry: Registry, tls: TLSConfig | None
) -> web.StreamResponse:
    for name in _UNSERVED:
        if name in request.query:
            raise errors.BadRequest(f"{name} is not supported by this apiserver yet")
    tail = request.query.get("tailLines", "")
    try:
        tail_lines = int(tail) if tail else 0
    except ValueError:
        raise errors.BadRequest(f"tailLines: invalid value {tail!r}: must be an integer") from None
    pod, container = await pod_and_container(registry, target, request.query.get("container", ""))
    stub, channel = await dial(registry, pod, container, tls)
    timestamps = _flag(request, "timestamps")
    call_request = kpb.ContainerLogsRequest(
        namespace=target.namespace,
        pod=target.name,
        container=container,
        follow=_flag(request, "follow"),
        tail_lines=tail_lines,
        timestamps=timestamps,
        previous=_flag(request, "previous"),
    )
    try:
        call = stub.ContainerLogs(call_request)  # type: ignore[attr-defined]
        response: web.StreamResponse | None = None
        try:
            async for entry in call:
                if response is None:
                    response = await _start(request)
                prefix = f"{entry.timestamp} ".encode() if timestamps and entry.timestamp else b""
                await response.write(prefix + entry.line + b"\n")
        except grpc.aio.AioRpcError as exc:
            if response is None:
                raise errors.from_rpc_error(exc) from None
            return response  # the stream broke after it started: end the body there
        except ConnectionResetError:
            call.cancel()
            return response or web.StreamResponse()
        if response is None:
            response = await _start(request)
        await response.write_eof()
        return response
    finally:
        await channel.close()  # type: ignore[attr-defined]


async def _start(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response
