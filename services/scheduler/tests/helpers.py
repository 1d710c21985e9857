"""Builders for scheduler tests: nodes, pods (Kubernetes-shaped dicts), and a cluster harness that runs
a profile's plugins over a real cache and snapshot without an apiserver."""

from __future__ import annotations

from typing import Any

from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_common.apimachinery.convert import from_dict
from skiff_scheduler.cache import SchedulerCache
from skiff_scheduler.framework import CycleState, Handle, NodeInfo, PodInfo, Snapshot, Status
from skiff_scheduler.framework.build import build_framework
from skiff_scheduler.framework.runtime import Framework
from skiff_scheduler.plugins import default_registry
from skiff_scheduler.profile import PointSet, ProfileConfig
from skiff_scheduler.scheduler import Scheduler

_uid = 0


def make_node(
    name: str = "n1",
    *,
    ready: str | None = "True",
    labels: dict[str, str] | None = None,
    taints: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    unschedulable: bool = False,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str = "110",
    extra: dict[str, str] | None = None,
    images: dict[str, int] | None = None,
) -> node_pb2.Node:
    node = node_pb2.Node(api_version="v1", kind="Node")
    node.metadata.name = name
    node.metadata.labels.update({"kubernetes.io/hostname": name, **(labels or {})})
    node.spec.unschedulable = unschedulable
    for key, value, effect in taints:
        node.spec.taints.add(key=key, value=value, effect=effect)
    if ready is not None:
        node.status.conditions.add(type="Ready", status=ready)
    for k, v in (("cpu", cpu), ("memory", memory), ("pods", pods), *(extra or {}).items()):
        node.status.allocatable[k].value = v
        node.status.capacity[k].value = v
    for img, size in (images or {}).items():
        node.status.images.add(names=[img], size_bytes=size)
    return node


def make_pod(
    name: str = "p",
    *,
    namespace: str = "default",
    cpu: str = "",
    memory: str = "",
    labels: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
    node_selector: dict[str, str] | None = None,
    tolerations: list[Any] = (),  # type: ignore[assignment]
    init_cpu: str = "",
    priority: int | None = None,
    node_name: str = "",
    extra: dict[str, str] | None = None,
    owned: bool = False,
) -> pod_pb2.Pod:
    global _uid
    _uid += 1
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory), *(extra or {}).items()) if v}
    container: dict[str, Any] = {"name": "c", "image": "busybox"}
    if requests:
        container["resources"] = {"requests": requests}
    body: dict[str, Any] = {"containers": [container], **(spec or {})}
    if init_cpu:
        body["initContainers"] = [{"name": "init", "image": "busybox", "resources": {"requests": {"cpu": init_cpu}}}]
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{_uid}", "labels": labels or {}}
    if owned:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": True}
        ]
    pod = from_dict({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": body}, pod_pb2.Pod)
    pod.spec.node_selector.update(node_selector or {})
    pod.spec.tolerations.extend(tolerations)
    if priority is not None:
        pod.spec.priority = priority
    pod.spec.node_name = node_name
    return pod


def info(node: node_pb2.Node, pods: list[pod_pb2.Pod] = ()) -> NodeInfo:  # type: ignore[assignment]
    ni = NodeInfo()
    ni.set_node(node)
    for p in pods:
        ni.add_pod(PodInfo.of(p))
    return ni


def profile(*plugins: str, args: dict[str, dict[str, Any]] | None = None) -> ProfileConfig:
    """Only the named plugins (plus PrioritySort and DefaultBinder); none named: the defaults."""
    prof = ProfileConfig(plugin_args=args or {})
    if plugins:
        prof.multi_point = PointSet(
            enabled=[(n, 0) for n in ("PrioritySort", *plugins, "DefaultBinder")], disabled=["*"]
        )
    return prof


class Cluster:
    """Nodes and bound pods in a real SchedulerCache; a framework built from a profile over its snapshot."""

    def __init__(
        self, nodes: list[node_pb2.Node], pods: list[pod_pb2.Pod] = (), prof: ProfileConfig | None = None
    ) -> None:  # type: ignore[assignment]
        self.cache = SchedulerCache()
        for n in nodes:
            self.cache.add_node(n)
        for p in pods:
            assert p.spec.node_name, "bound pods need node_name"
            self.cache.add_pod(p)
        self.snapshot = Snapshot()
        self.handle = Handle(snapshot=self.snapshot)
        self.fw: Framework = build_framework(prof or profile(), default_registry(), self.handle)
        self.cache.update_snapshot(self.snapshot)

    def refresh(self) -> None:
        self.cache.update_snapshot(self.snapshot)

    def filter(self, pod: pod_pb2.Pod, node: str) -> Status:
        """PreFilter then Filter of one node, as a cycle runs them."""
        self.refresh()
        pi, state = PodInfo.of(pod), CycleState()
        pre, status = self.fw.run_pre_filter(state, pi, self.snapshot.nodes)
        if not status.ok:
            return status
        if pre is not None and pre.node_names is not None and node not in pre.node_names:
            return Status.unschedulable("excluded by PreFilterResult")
        return self.fw.run_filter(state, pi, self.snapshot.by_name[node])

    def scores(self, pod: pod_pb2.Pod) -> dict[str, int]:
        """Total weighted scores over the nodes that pass Filter."""
        self.refresh()
        pi, state = PodInfo.of(pod), CycleState()
        _, status = self.fw.run_pre_filter(state, pi, self.snapshot.nodes)
        assert status.ok, status
        feasible = [n for n in self.snapshot.nodes if self.fw.run_filter(state, pi, n).ok]
        assert self.fw.run_pre_score(state, pi, feasible).ok
        return {s.name: s.score for s in self.fw.run_score(state, pi, feasible)}

    def schedule(self, pod: pod_pb2.Pod) -> tuple[str, str]:
        """(chosen node or "", failure message) using the real scheduling cycle, and assume the pod."""
        from skiff_scheduler.failure import fit_message

        self.refresh()
        sched = Scheduler(
            None, {"default-scheduler": self.fw}, self.cache, None, self.snapshot, self.handle.nominator, None
        )  # type: ignore[arg-type]
        pi = PodInfo.of(pod)
        res = sched.schedule_pod(self.fw, CycleState(), pi)
        if res.node:
            bound = pod_pb2.Pod()
            bound.CopyFrom(pod)
            bound.spec.node_name = res.node
            self.cache.add_pod(bound)
            return res.node, ""
        if not res.status.rejected:
            return "", res.status.message()
        return "", fit_message(len(self.snapshot.nodes), res.statuses, res.excluded)
