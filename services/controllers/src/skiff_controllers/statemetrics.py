"""Object-state metrics in kube-state-metrics' names, from the controller-manager's informer caches.

Kubernetes' dashboards and alerts (KubeNodeNotReady, KubePodCrashLooping, KubeDeploymentReplicasMismatch)
read object state through kube-state-metrics, a separate exporter that watches the API. Skiff's
controller-manager already holds those objects in its shared informers, so it exports the few series the
shipped dashboards and alerts use on its own /metrics instead of running another watcher. The series are
computed at scrape time from the caches (nothing is kept up to date in between), and only while this
replica leads: a standby's caches are not running.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector
from skiff.api.apps.v1 import apps_pb2
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import InformerFactory

_PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
_CONDITION_STATUSES = ("true", "false", "unknown")


class StateMetrics(Collector):
    def __init__(self, factory: InformerFactory) -> None:
        self._nodes = factory.informer(node_pb2.Node)
        self._pods = factory.informer(pod_pb2.Pod)
        self._deployments = factory.informer(apps_pb2.Deployment)

    def collect(self) -> Iterator[Any]:
        yield from self._node_metrics()
        yield from self._pod_metrics()
        yield from self._deployment_metrics()

    def _node_metrics(self) -> Iterator[Any]:
        info = GaugeMetricFamily("kube_node_info", "Information about a cluster node.", labels=["node"])
        conditions = GaugeMetricFamily(
            "kube_node_status_condition", "The condition of a cluster node.", labels=["node", "condition", "status"]
        )
        unschedulable = GaugeMetricFamily(
            "kube_node_spec_unschedulable", "Whether a node can schedule new pods.", labels=["node"]
        )
        for node in self._nodes.store.list():
            name = node.metadata.name
            info.add_metric([name], 1)
            unschedulable.add_metric([name], 1 if node.spec.unschedulable else 0)
            for cond in node.status.conditions:
                for status in _CONDITION_STATUSES:
                    conditions.add_metric([name, cond.type, status], 1 if cond.status.lower() == status else 0)
        yield from (info, conditions, unschedulable)

    def _pod_metrics(self) -> Iterator[Any]:
        phase = GaugeMetricFamily(
            "kube_pod_status_phase", "The pods current phase.", labels=["namespace", "pod", "phase"]
        )
        restarts = CounterMetricFamily(
            "kube_pod_container_status_restarts",
            "The number of container restarts per container.",
            labels=["namespace", "pod", "container"],
        )
        waiting = GaugeMetricFamily(
            "kube_pod_container_status_waiting_reason",
            "Describes the reason the container is currently in waiting state.",
            labels=["namespace", "pod", "container", "reason"],
        )
        for pod in self._pods.store.list():
            ns, name = pod.metadata.namespace, pod.metadata.name
            for p in _PHASES:
                phase.add_metric([ns, name, p], 1 if pod.status.phase == p else 0)
            for cs in pod.status.container_statuses:
                restarts.add_metric([ns, name, cs.name], cs.restart_count)
                if cs.state.waiting.reason:
                    waiting.add_metric([ns, name, cs.name, cs.state.waiting.reason], 1)
        yield from (phase, restarts, waiting)

    def _deployment_metrics(self) -> Iterator[Any]:
        labels = ["namespace", "deployment"]
        spec = GaugeMetricFamily(
            "kube_deployment_spec_replicas", "Number of desired pods for a deployment.", labels=labels
        )
        available = GaugeMetricFamily(
            "kube_deployment_status_replicas_available",
            "The number of available replicas per deployment.",
            labels=labels,
        )
        updated = GaugeMetricFamily(
            "kube_deployment_status_replicas_updated", "The number of updated replicas per deployment.", labels=labels
        )
        for d in self._deployments.store.list():
            key = [d.metadata.namespace, d.metadata.name]
            spec.add_metric(key, d.spec.replicas if d.spec.HasField("replicas") else 1)
            available.add_metric(key, d.status.available_replicas)
            updated.add_metric(key, d.status.updated_replicas)
        yield from (spec, available, updated)

    def register(self) -> None:
        REGISTRY.register(self)

    def unregister(self) -> None:
        try:
            REGISTRY.unregister(self)
        except KeyError:
            pass
