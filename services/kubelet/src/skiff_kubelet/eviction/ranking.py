"""Which pod goes first under pressure: Kubernetes' eviction ranking, as pure functions.

memory: pods using more than they request first, then lower priority, then by usage above request;
ephemeral-storage: the same with disk usage (writable layers + logs); pids: lower priority first.
Critical pods (priority >= 2000000000, system-cluster-critical and above) are never ranked.
"""

from __future__ import annotations

from dataclasses import dataclass

from skiff.api.core.v1 import pod_pb2
from skiff_common.apimachinery.quantity import int_value

CRITICAL_PRIORITY = 2_000_000_000


@dataclass(frozen=True)
class Candidate:
    pod: pod_pb2.Pod
    usage: int  # bytes of the resource being reclaimed (0 when unknown)
    container_usage: dict[str, int]


def request_of(pod: pod_pb2.Pod, resource: str) -> int:
    total = 0
    for c in pod.spec.containers:
        q = c.resources.requests.get(resource)
        if q is not None and q.value:
            total += int_value(q.value)
    return total


def rank(candidates: list[Candidate], resource: str) -> list[Candidate]:
    eligible = [c for c in candidates if c.pod.spec.priority < CRITICAL_PRIORITY]
    if resource == "pids":
        return sorted(eligible, key=lambda c: c.pod.spec.priority)

    def key(c: Candidate) -> tuple[int, int, int]:
        request = request_of(c.pod, resource)
        exceeds = c.usage > request
        return (0 if exceeds else 1, c.pod.spec.priority, -(c.usage - request))

    return sorted(eligible, key=key)


def _ki(value: int) -> str:
    return f"{value // 1024}Ki"


def message(resource: str, threshold: int, available: int, c: Candidate) -> str:
    """Kubernetes' eviction message, naming the containers that use more than they request."""
    text = f"The node was low on resource: {resource}. "
    bytes_like = resource in ("memory", "ephemeral-storage")
    q = _ki if bytes_like else str
    text += f"Threshold quantity: {q(threshold)}, available: {q(available)}. "
    for container in c.pod.spec.containers:
        used = c.container_usage.get(container.name, 0)
        requested = container.resources.requests.get(resource)
        request = int_value(requested.value) if requested is not None and requested.value else 0
        if used > request:
            text += (
                f"Container {container.name} was using {q(used)}, request is {requested.value if requested else '0'}, "
                f"has larger consumption of {resource}. "
            )
    return text
