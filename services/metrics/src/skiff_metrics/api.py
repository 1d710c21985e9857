"""metrics.k8s.io/v1beta1 over HTTP: NodeMetrics and PodMetrics, as metrics-server serves them.

The apiserver's aggregator (`skiff_apiserver/rest/aggregator.py`) forwards `/apis/metrics.k8s.io/...`
here after authenticating the user, so this server only demands that its caller holds a certificate of the
cluster CA (the apiserver does). Objects are built on request from the Storage window and the informer
caches (labels, label selectors, which pods exist); there is no watch, as in Kubernetes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from skiff.api.core.v1 import node_pb2, pod_pb2
from skiff_client import Informer
from skiff_common import errors
from skiff_common.apimachinery.labels import Selector, parse_selector

from skiff_metrics.storage import Storage, Usage

GROUP_VERSION = "metrics.k8s.io/v1beta1"
PREFIX = "/apis/metrics.k8s.io/v1beta1"


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def usage_quantities(nano_cores: int, memory: int) -> dict[str, str]:
    """metrics-server's units: CPU in nanocores, memory in Ki."""
    return {"cpu": f"{nano_cores}n", "memory": f"{memory // 1024}Ki"}


def resource_list() -> dict[str, Any]:
    def res(name: str, kind: str, namespaced: bool) -> dict[str, Any]:
        return {"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": ["get", "list"]}

    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": GROUP_VERSION,
        "resources": [res("nodes", "NodeMetrics", False), res("pods", "PodMetrics", True)],
    }


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip
    return web.json_response(body, status=code)


class MetricsApi:
    def __init__(
        self,
        storage: Storage,
        nodes: Informer[node_pb2.Node],
        pods: Informer[pod_pb2.Pod],
        now: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.nodes = nodes
        self.pods = pods
        self.now = now
        self.app = web.Application()
        add = self.app.router.add_get
        add(PREFIX, self._resources)
        add(PREFIX + "/nodes", self._list_nodes)
        add(PREFIX + "/nodes/{name}", self._get_node)
        add(PREFIX + "/pods", self._list_pods)
        add(PREFIX + "/namespaces/{namespace}/pods", self._list_pods)
        add(PREFIX + "/namespaces/{namespace}/pods/{name}", self._get_pod)
        add("/healthz", self._healthz)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _resources(self, request: web.Request) -> web.Response:
        return web.json_response(resource_list())

    @staticmethod
    def _selector(request: web.Request) -> Selector | web.Response:
        try:
            return parse_selector(request.query.get("labelSelector", ""))
        except (ValueError, errors.SkiffError) as exc:
            return _status(400, "BadRequest", f"labelSelector: {exc}")

    def _node(self, node: node_pb2.Node) -> dict[str, Any] | None:
        usage = self.storage.node_usage(node.metadata.name)
        if usage is None:
            return None
        return self._object("NodeMetrics", node.metadata.name, "", dict(node.metadata.labels), usage) | {
            "usage": usage_quantities(usage.nano_cores, usage.memory)
        }

    def _object(self, kind: str, name: str, namespace: str, labels: dict[str, str], usage: Usage) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name, "creationTimestamp": rfc3339(self.now())}
        if namespace:
            meta["namespace"] = namespace
        if labels:
            meta["labels"] = labels
        return {"kind": kind, "apiVersion": GROUP_VERSION, "metadata": meta, "timestamp": rfc3339(usage.timestamp),
                "window": f"{usage.window:.3f}s"}  # fmt: skip

    def _pod(self, pod: pod_pb2.Pod) -> dict[str, Any] | None:
        containers = self.storage.pod_usage((pod.metadata.namespace, pod.metadata.name))
        if containers is None:
            return None
        first = containers[0][1]
        out = self._object("PodMetrics", pod.metadata.name, pod.metadata.namespace, dict(pod.metadata.labels), first)
        out["containers"] = [{"name": n, "usage": usage_quantities(u.nano_cores, u.memory)} for n, u in containers]
        return out

    @staticmethod
    def _list(kind: str, items: list[dict[str, Any]]) -> web.Response:
        return web.json_response({"kind": kind, "apiVersion": GROUP_VERSION, "metadata": {}, "items": items})

    async def _list_nodes(self, request: web.Request) -> web.Response:
        selector = self._selector(request)
        if isinstance(selector, web.Response):
            return selector
        nodes = sorted(self.nodes.store.list(), key=lambda n: n.metadata.name)
        items = [self._node(n) for n in nodes if selector.matches(n.metadata.labels)]
        return self._list("NodeMetricsList", [i for i in items if i is not None])

    async def _get_node(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        node = self.nodes.store.get(name)
        found = self._node(node) if node is not None else None
        if found is None:
            return _status(404, "NotFound", f'nodemetrics.metrics.k8s.io "{name}" not found')
        return web.json_response(found)

    async def _list_pods(self, request: web.Request) -> web.Response:
        selector = self._selector(request)
        if isinstance(selector, web.Response):
            return selector
        namespace = request.match_info.get("namespace", "")
        pods = sorted(self.pods.store.list(), key=lambda p: (p.metadata.namespace, p.metadata.name))
        items = [
            self._pod(p)
            for p in pods
            if (not namespace or p.metadata.namespace == namespace) and selector.matches(p.metadata.labels)
        ]
        return self._list("PodMetricsList", [i for i in items if i is not None])

    async def _get_pod(self, request: web.Request) -> web.Response:
        namespace, name = request.match_info["namespace"], request.match_info["name"]
        pod = self.pods.store.get(f"{namespace}/{name}")
        found = self._pod(pod) if pod is not None else None
        if found is None:
            return _status(404, "NotFound", f'podmetrics.metrics.k8s.io "{name}" not found')
        return web.json_response(found)
