"""Builders for scheduler tests."""

from __future__ import annotations

from skiff.api.core.v1 import container_pb2, node_pb2, pod_pb2, scheduling_pb2
from skiff.api.meta.v1 import meta_pb2
from skiff_scheduler.framework import NodeInfo


def make_node(
    name: str = "n1",
    *,
    ready: str | None = "True",
    labels: dict[str, str] | None = None,
    taints: list[tuple[str, str, str]] = (),
    unschedulable: bool = False,  # type: ignore[assignment]
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
) -> node_pb2.Node:
    node = node_pb2.Node(metadata=meta_pb2.ObjectMeta(name=name, labels=labels or {}))
    node.spec.unschedulable = unschedulable
    for key, value, effect in taints:
        node.spec.taints.add(key=key, value=value, effect=effect)
    if ready is not None:
        node.status.conditions.add(type="Ready", status=ready)
    for k, v in (("cpu", cpu), ("memory", memory), ("pods", pods)):
        node.status.allocatable[k].value = v
    return node


def make_pod(
    name: str = "p",
    *,
    cpu: str = "",
    memory: str = "",
    node_selector: dict[str, str] | None = None,
    tolerations: list[scheduling_pb2.Toleration] = (),  # type: ignore[assignment]
    init_cpu: str = "",
) -> pod_pb2.Pod:
    pod = pod_pb2.Pod(metadata=meta_pb2.ObjectMeta(name=name, namespace="default"))
    c = container_pb2.Container(name="c", image="busybox")
    if cpu:
        c.resources.requests["cpu"].value = cpu
    if memory:
        c.resources.requests["memory"].value = memory
    pod.spec.containers.append(c)
    if init_cpu:
        ic = container_pb2.Container(name="init", image="busybox")
        ic.resources.requests["cpu"].value = init_cpu
        pod.spec.init_containers.append(ic)
    pod.spec.node_selector.update(node_selector or {})
    pod.spec.tolerations.extend(tolerations)
    return pod


def info(node: node_pb2.Node, pods: list[pod_pb2.Pod] = (), cpu: int = 0, mem: int = 0) -> NodeInfo:  # type: ignore[assignment]
    return NodeInfo(
        node=node,
        pods=list(pods),
        requested_milli_cpu=cpu,
        requested_memory=mem,
        nonzero_milli_cpu=cpu,
        nonzero_memory=mem,
    )
