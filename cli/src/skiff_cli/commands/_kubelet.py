"""Reaching the kubelet that runs a pod, for logs and exec.

The CLI asks the apiserver which node the pod is on, then dials that node's kubelet at the address
and port its Node object advertises, with the same client certificate it uses for the apiserver.
"""

from __future__ import annotations

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff.kubelet.v1 import kubelet_pb2_grpc
from skiff_client.api import ApiClient
from skiff_common.errors import BadRequest
from skiff_common.grpcutil import create_channel

from ..clientconfig import load_client_config


async def kubelet_for_pod(
    client: ApiClient, name: str, namespace: str
) -> tuple[pod_pb2.Pod, kubelet_pb2_grpc.KubeletStub, object]:
    pod = await client.get(pod_pb2.Pod, name, namespace)
    if not pod.spec.node_name:
        raise BadRequest(f'pod "{name}" is not scheduled to a node yet')
    node = await client.get(node_pb2.Node, pod.spec.node_name)
    address = next((a.address for a in node.status.addresses if a.type == "InternalIP"), "")
    port = node.status.daemon_endpoints.kubelet_endpoint.port
    if not address or not port:
        raise BadRequest(f'node "{node.metadata.name}" does not advertise a kubelet endpoint')
    config = load_client_config()
    channel = create_channel(f"{address}:{port}", tls=config.tls)
    return pod, kubelet_pb2_grpc.KubeletStub(channel), channel


def container_name(pod: pod_pb2.Pod, requested: str) -> str:
    names = [c.name for c in pod.spec.containers]
    if requested:
        if requested not in names:
            raise BadRequest(f"container {requested} is not valid for pod {pod.metadata.name}")
        return requested
    if len(names) != 1:
        raise BadRequest(
            f"a container name must be specified for pod {pod.metadata.name}, choose one of: [{' '.join(names)}]"
        )
    return names[0]
