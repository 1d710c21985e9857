"""Reaching the kubelet that runs a pod (pods/log, pods/exec): the pod's node, that Node's InternalIP and
advertised kubelet port, dialled over the cluster's mutual TLS with the apiserver's own certificate."""

from __future__ import annotations

from google.protobuf.message import Message
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_apiserver.machinery import kinds
from skiff_apiserver.registry.api import Registry
from skiff_apiserver.rest.router import Target
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig, create_channel


async def pod_and_container(registry: Registry, target: Target, requested: str) -> tuple[Message, str]:
    pod = await registry.get(target.info, target.namespace, target.name)
    names = [c.name for c in pod.spec.containers]  # type: ignore[attr-defined]
    if requested:
        if requested not in names:
            raise errors.BadRequest(f"container {requested} is not valid for pod {target.name}")
        return pod, requested
    if len(names) != 1:
        choices = " ".join(names)
        raise errors.BadRequest(f"a container name must be specified for pod {target.name}, choose one of: [{choices}]")
    return pod, names[0]


async def dial(registry: Registry, pod: Message, container: str, tls: TLSConfig | None) -> tuple[object, object]:
    """(KubeletStub, channel) for the pod's node; the caller closes the channel."""
    node_name = pod.spec.node_name  # type: ignore[attr-defined]
    if not node_name:
        name = pod.metadata.name  # type: ignore[attr-defined]
        raise errors.BadRequest(f'container "{container}" in pod "{name}" is waiting to start: not scheduled')
    node = await registry.get(kinds.lookup_resource("nodes"), "", node_name)
    address = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")  # type: ignore[attr-defined]
    port = node.status.daemon_endpoints.kubelet_endpoint.port  # type: ignore[attr-defined]
    if not address or not port:
        raise errors.Unavailable(f'node "{node_name}" does not advertise a kubelet endpoint')
    channel = create_channel(f"{address}:{port}", tls=tls)
    return kubelet_pb2_grpc.KubeletStub(channel), channel  # type: ignore[no-untyped-call]
