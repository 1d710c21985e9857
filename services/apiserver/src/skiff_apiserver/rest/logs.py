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
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.router import Target
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig, create_channel

_UNSERVED = ("sinceSeconds", "sinceTime", "limitBytes")


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "") in ("true", "1")


def _container(pod: object, requested: str) -> str:
    names = [c.name for c in pod.spec.containers]  # type: ignore[attr-defined]
    name = pod.metadata.name  # type: ignore[attr-defined]
    if requested:
        if requested not in names:
            raise errors.BadRequest(f"container {requested} is not valid for pod {name}")
        return requested
    if len(names) != 1:
        raise errors.BadRequest(
            f"a container name must be specified for pod {name}, choose one of: [{' '.join(names)}]"
        )
    return names[0]


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
    pod = await registry.get(target.info, target.namespace, target.name)
    container = _container(pod, request.query.get("container", ""))
    node_name = pod.spec.node_name  # type: ignore[attr-defined]
    if not node_name:
        raise errors.BadRequest(f'container "{container}" in pod "{target.name}" is waiting to start: not scheduled')
    node = await registry.get(kinds.lookup_resource("nodes"), "", node_name)
    address = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")  # type: ignore[attr-defined]
    port = node.status.daemon_endpoints.kubelet_endpoint.port  # type: ignore[attr-defined]
    if not address or not port:
        raise errors.Unavailable(f'node "{node_name}" does not advertise a kubelet endpoint')
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
    channel = create_channel(f"{address}:{port}", tls=tls)
    try:
        call = kubelet_pb2_grpc.KubeletStub(channel).ContainerLogs(call_request)
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
        await channel.close()


async def _start(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    return response
