"""PodInfo and NodeInfo: a pod's and a node's scheduling-relevant facts, computed once.

Parsing quantities and label selectors is the expensive part of a Python scheduler, so it happens once
per object version: a ``PodInfo`` carries the pod's effective requests (every resource name, extended
ones included: max(sum of app containers, largest init container) plus the pod overhead), its host
ports and its parsed affinity terms; a ``NodeInfo`` carries its node's allocatable and the running sums
of the pods on it (requests, non-zero requests for scoring, used host ports, pods with affinity). The
cache keeps NodeInfos up to date incrementally; each carries a ``generation`` so the per-cycle snapshot
only re-copies what changed.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from skiff.api.core.v1 import node_pb2, pod_pb2, scheduling_pb2
from skiff_common.apimachinery import labels as labelsel
from skiff_common.apimachinery import quantity

CPU, MEMORY, PODS = "cpu", "memory", "pods"
DEFAULT_MILLI_CPU = 100  # kube-scheduler's non-zero request defaults (scoring only)
DEFAULT_MEMORY = 200 * 1024 * 1024

_generation = itertools.count(1)


def next_generation() -> int:
    return next(_generation)


def resource_value(name: str, value: str) -> int:
    """cpu in millicores, everything else in whole units (bytes, devices)."""
    return quantity.milli_value(value) if name == CPU else quantity.int_value(value)


def _container_requests(c: object) -> dict[str, int]:
    res = c.resources  # type: ignore[attr-defined]
    out = {name: resource_value(name, q.value) for name, q in res.requests.items() if q.value}
    for name, q in res.limits.items():  # a limit without a request defaults the request
        if name not in out and q.value:
            out[name] = resource_value(name, q.value)
    return out


def compute_requests(pod: pod_pb2.Pod) -> dict[str, int]:
    total: dict[str, int] = {}
    for c in pod.spec.containers:
        for name, v in _container_requests(c).items():
            total[name] = total.get(name, 0) + v
    for c in pod.spec.init_containers:
        for name, v in _container_requests(c).items():
            if v > total.get(name, 0):
                total[name] = v
    for name, q in pod.spec.overhead.items():
        if q.value:
            total[name] = total.get(name, 0) + resource_value(name, q.value)
    return total


def compute_nonzero(pod: pod_pb2.Pod) -> tuple[int, int]:
    cpu = mem = 0
    for c in pod.spec.containers:
        req = _container_requests(c)
        cpu += req.get(CPU) or DEFAULT_MILLI_CPU
        mem += req.get(MEMORY) or DEFAULT_MEMORY
    for c in pod.spec.init_containers:
        req = _container_requests(c)
        cpu, mem = max(cpu, req.get(CPU) or DEFAULT_MILLI_CPU), max(mem, req.get(MEMORY) or DEFAULT_MEMORY)
    for name, q in pod.spec.overhead.items():
        if name == CPU:
            cpu += resource_value(CPU, q.value)
        elif name == MEMORY:
            mem += resource_value(MEMORY, q.value)
    return cpu, mem


def host_ports(pod: pod_pb2.Pod) -> list[tuple[str, str, int]]:
    return [
        (p.host_ip or "0.0.0.0", p.protocol or "TCP", p.host_port)
        for c in itertools.chain(pod.spec.containers, pod.spec.init_containers)
        for p in c.ports
        if p.host_port > 0
    ]


NamespaceLabels = Callable[[str], Mapping[str, str] | None]


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A parsed PodAffinityTerm. ``selector`` None (no labelSelector) matches no pod."""

    selector: labelsel.Selector | None
    namespaces: frozenset[str]
    namespace_selector: labelsel.Selector | None
    topology_key: str
    weight: int = 0

    def matches(self, pod: pod_pb2.Pod, ns_labels: NamespaceLabels | None = None) -> bool:
        ns = pod.metadata.namespace
        if ns not in self.namespaces:
            if self.namespace_selector is None:
                return False
            if not self.namespace_selector.empty():
                found = ns_labels(ns) if ns_labels is not None else None
                if found is None or not self.namespace_selector.matches(found):
                    return False
        return self.selector is not None and self.selector.matches(pod.metadata.labels)


def _term(owner_ns: str, t: scheduling_pb2.PodAffinityTerm, weight: int = 0) -> AffinityTerm:
    sel = labelsel.selector_from_proto(t.label_selector) if t.HasField("label_selector") else None
    ns_sel = labelsel.selector_from_proto(t.namespace_selector) if t.HasField("namespace_selector") else None
    namespaces = frozenset(t.namespaces) or (frozenset((owner_ns,)) if ns_sel is None else frozenset())
    return AffinityTerm(sel, namespaces, ns_sel, t.topology_key, weight)


def _check_order(item: tuple[str, int]) -> tuple[int, str]:
    return ({CPU: 0, MEMORY: 1, "ephemeral-storage": 2}.get(item[0], 3), item[0])


@dataclass(slots=True)
class PodInfo:
    pod: pod_pb2.Pod
    requests: dict[str, int]
    nonzero_cpu: int
    nonzero_memory: int
    ports: list[tuple[str, str, int]]
    required_affinity: list[AffinityTerm]
    required_anti_affinity: list[AffinityTerm]
    preferred_affinity: list[AffinityTerm]
    preferred_anti_affinity: list[AffinityTerm]
    # requests in kube-scheduler's check order: cpu, memory, ephemeral-storage, then by name
    ordered_requests: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> str:
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}"

    @property
    def uid(self) -> str:
        return self.pod.metadata.uid

    @property
    def priority(self) -> int:
        return self.pod.spec.priority if self.pod.spec.HasField("priority") else 0

    @property
    def has_affinity(self) -> bool:
        return bool(
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )

    @classmethod
    def of(cls, pod: pod_pb2.Pod) -> PodInfo:
        cpu, mem = compute_nonzero(pod)
        ns = pod.metadata.namespace
        aff = pod.spec.affinity
        pa, paa = aff.pod_affinity, aff.pod_anti_affinity
        requests = compute_requests(pod)
        ordered = tuple(sorted(((k, v) for k, v in requests.items() if v > 0 and k != PODS), key=_check_order))
        return cls(
            pod,
            requests,
            cpu,
            mem,
            host_ports(pod),
            [_term(ns, t) for t in pa.required_during_scheduling_ignored_during_execution],
            [_term(ns, t) for t in paa.required_during_scheduling_ignored_during_execution],
            [_term(ns, w.pod_affinity_term, w.weight) for w in pa.preferred_during_scheduling_ignored_during_execution],
            [
                _term(ns, w.pod_affinity_term, w.weight)
                for w in paa.preferred_during_scheduling_ignored_during_execution
            ],
            ordered,
        )


def node_allocatable(node: node_pb2.Node) -> dict[str, int]:
    alloc = {name: resource_value(name, q.value) for name, q in node.status.allocatable.items() if q.value}
    if PODS not in alloc:
        alloc[PODS] = 110  # the kubelet's default maxPods
    return alloc


@dataclass(slots=True)
class NodeInfo:
    """A node plus the pods bound or assumed on it, with running sums kept by add_pod/remove_pod."""

    node: node_pb2.Node | None = None
    pods: list[PodInfo] = field(default_factory=list)
    pods_with_affinity: list[PodInfo] = field(default_factory=list)
    pods_with_required_anti_affinity: list[PodInfo] = field(default_factory=list)
    used_ports: dict[tuple[str, str, int], int] = field(default_factory=dict)
    requested: dict[str, int] = field(default_factory=dict)
    nonzero_cpu: int = 0
    nonzero_memory: int = 0
    allocatable: dict[str, int] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)  # image name -> size in bytes
    generation: int = 0

    # Plain attributes, not properties: Filter and Score read them once per node per pod.
    name: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: Sequence[node_pb2.Taint] = ()
    unschedulable: bool = False

    def set_node(self, node: node_pb2.Node) -> None:
        self.node = node
        self.name = node.metadata.name
        self.labels = node.metadata.labels
        self.taints = node.spec.taints
        self.unschedulable = node.spec.unschedulable
        self.allocatable = node_allocatable(node)
        self.images = {}
        for img in node.status.images:
            for n in img.names:
                self.images[n] = img.size_bytes
        self.generation = next_generation()

    def add_pod(self, pi: PodInfo) -> None:
        self.pods.append(pi)
        if pi.has_affinity:
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity:
            self.pods_with_required_anti_affinity.append(pi)
        req = self.requested
        for name, v in pi.requests.items():
            req[name] = req.get(name, 0) + v
        self.nonzero_cpu += pi.nonzero_cpu
        self.nonzero_memory += pi.nonzero_memory
        for port in pi.ports:
            self.used_ports[port] = self.used_ports.get(port, 0) + 1
        self.generation = next_generation()

    def remove_pod(self, uid: str) -> PodInfo | None:
        index = next((i for i, p in enumerate(self.pods) if p.uid == uid), None)
        if index is None:
            return None
        pi = self.pods.pop(index)
        self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != uid]
        self.pods_with_required_anti_affinity = [p for p in self.pods_with_required_anti_affinity if p.uid != uid]
        req = self.requested
        for name, v in pi.requests.items():
            req[name] = req.get(name, 0) - v
        self.nonzero_cpu -= pi.nonzero_cpu
        self.nonzero_memory -= pi.nonzero_memory
        for port in pi.ports:
            left = self.used_ports.get(port, 0) - 1
            if left > 0:
                self.used_ports[port] = left
            else:
                self.used_ports.pop(port, None)
        self.generation = next_generation()
        return pi

    def clone(self) -> NodeInfo:
        return NodeInfo(
            self.node,
            list(self.pods),
            list(self.pods_with_affinity),
            list(self.pods_with_required_anti_affinity),
            dict(self.used_ports),
            dict(self.requested),
            self.nonzero_cpu,
            self.nonzero_memory,
            self.allocatable,
            self.images,
            self.generation,
            self.name,
            self.labels,
            self.taints,
            self.unschedulable,
        )
