"""NodeResourcesFit (filter) and LeastAllocated (score).

A pod's request is Kubernetes' effective request: max(sum over app containers, max over init
containers) per resource, because init containers run one at a time before the app containers. Fit
compares requests plus what pods already bound to the node request against allocatable, and the pod
count against allocatable pods. LeastAllocated prefers the emptiest node: the mean over cpu and
memory of (allocatable - requested) / allocatable, scaled to 0..100, where containers without requests
count as 100m / 200Mi (Kubernetes' non-zero defaults) so best-effort pods spread too.
"""

from __future__ import annotations

from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery import quantity

from skiff_scheduler.framework import MAX_NODE_SCORE, NodeInfo, Status


def _container_requests(c: object) -> tuple[int, int]:
    res = c.resources  # type: ignore[attr-defined]
    req = res.requests
    cpu = req["cpu"].value if "cpu" in req else (res.limits["cpu"].value if "cpu" in res.limits else "")
    mem = req["memory"].value if "memory" in req else (res.limits["memory"].value if "memory" in res.limits else "")
    return (quantity.milli_value(cpu) if cpu else 0, quantity.int_value(mem) if mem else 0)


def pod_requests(pod: pod_pb2.Pod) -> tuple[int, int]:
    """(milli-cpu, memory bytes) the pod asks for."""
    cpu = mem = 0
    for c in pod.spec.containers:
        c_cpu, c_mem = _container_requests(c)
        cpu, mem = cpu + c_cpu, mem + c_mem
    for c in pod.spec.init_containers:
        i_cpu, i_mem = _container_requests(c)
        cpu, mem = max(cpu, i_cpu), max(mem, i_mem)
    return cpu, mem


DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


def pod_requests_nonzero(pod: pod_pb2.Pod) -> tuple[int, int]:
    """Like pod_requests, but a container without a request counts as 100m / 200Mi (scoring only)."""
    cpu = mem = 0
    for c in pod.spec.containers:
        c_cpu, c_mem = _container_requests(c)
        cpu += c_cpu or DEFAULT_MILLI_CPU
        mem += c_mem or DEFAULT_MEMORY
    return cpu, mem


def allocatable(node: NodeInfo) -> tuple[int, int, int]:
    alloc = node.node.status.allocatable
    cpu = quantity.milli_value(alloc["cpu"].value) if "cpu" in alloc else 0
    mem = quantity.int_value(alloc["memory"].value) if "memory" in alloc else 0
    pods = quantity.int_value(alloc["pods"].value) if "pods" in alloc else 110
    return cpu, mem, pods


class NodeResourcesFit:
    name = "NodeResourcesFit"

    def filter(self, pod: pod_pb2.Pod, node: NodeInfo) -> Status:
        cpu, mem = pod_requests(pod)
        a_cpu, a_mem, a_pods = allocatable(node)
        reasons = []
        if len(node.pods) + 1 > a_pods:
            reasons.append("Too many pods")
        if cpu and node.requested_milli_cpu + cpu > a_cpu:
            reasons.append("Insufficient cpu")
        if mem and node.requested_memory + mem > a_mem:
            reasons.append("Insufficient memory")
        return Status.unschedulable(*reasons) if reasons else Status.success()


class LeastAllocated:
    name = "LeastAllocated"
    weight = 1

    def score(self, pod: pod_pb2.Pod, node: NodeInfo) -> int:
        cpu, mem = pod_requests_nonzero(pod)
        a_cpu, a_mem, _ = allocatable(node)
        parts = []
        for want, used, total in (
            (cpu, node.nonzero_milli_cpu, a_cpu),
            (mem, node.nonzero_memory, a_mem),
        ):
            if total <= 0:
                parts.append(0)
                continue
            free = max(0, total - used - want)
            parts.append(free * MAX_NODE_SCORE // total)
        return sum(parts) // len(parts)
