"""custom.metrics.k8s.io (v1beta1 and v1beta2) answered from Prometheus, as prometheus-adapter does: a
metric describing pods (a Pods metric of an HPA) or one object such as a Service (an Object metric).

    GET .../namespaces/<ns>/<resource>/<name or *>/<metric>?labelSelector=...&metricLabelSelector=...
      -> the rule (rules.py) that names <metric> for <resource>
      -> pods: the names from the informer cache (labelSelector honoured); other resources: the one named
         (or, for *, every value the series holds)
      -> the rule's query, rendered with namespace, names and metricLabelSelector as matchers
      -> a MetricValueList, one value per object, in milli-units

v1beta1 items carry `metricName`, v1beta2 items a `metric` identifier; otherwise the two are the same.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from skiff.api.core.v1 import pod_pb2
from skiff_client import Informer
from skiff_common import errors
from skiff_common.apimachinery.kinds import lookup_resource
from skiff_common.apimachinery.labels import Selector, parse_selector

from skiff_metrics.prometheus import Prometheus, PrometheusError
from skiff_metrics.rules import Rule, object_query, plural

GROUP = "custom.metrics.k8s.io"
VERSIONS = ("v1beta1", "v1beta2")


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def milli_quantity(value: float) -> str:
    milli = round(value * 1000)
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"


def status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip
    return web.json_response(body, status=code)


def selector_param(request: web.Request, name: str) -> Selector:
    """A label selector query parameter; ValueError naming it."""
    try:
        return parse_selector(request.query.get(name, ""))
    except (ValueError, errors.SkiffError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def described(resource: str) -> tuple[str, str]:
    """(kind, apiVersion) of a resource plural, for describedObject."""
    try:
        info = lookup_resource(resource)
        return info.kind, info.api_version
    except errors.SkiffError:  # not served by Skiff (an Ingress): a kind from the plural, no version
        if resource.endswith("ies"):
            singular = resource[:-3] + "y"
        elif resource.endswith(("sses", "xes", "zes", "ches", "shes")):
            singular = resource[:-2]
        else:
            singular = resource.removesuffix("s")
        return singular[:1].upper() + singular[1:], ""


class CustomMetricsApi:
    def __init__(self, rules: list[Rule], prometheus: Prometheus, pods: Informer[pod_pb2.Pod]) -> None:
        self.rules: dict[tuple[str, str], Rule] = {
            (resource, r.name): r for r in rules for resource in r.labels if resource != "namespaces"
        }
        self.prometheus = prometheus
        self.pods = pods

    def install(self, app: web.Application) -> None:
        for version in VERSIONS:
            prefix = f"/apis/{GROUP}/{version}"
            app.router.add_get(prefix, self._resources)
            app.router.add_get(prefix + "/namespaces/{namespace}/{resource}/{name}/{metric}", self._metric)

    async def _resources(self, request: web.Request) -> web.Response:
        version = request.path.rstrip("/").rsplit("/", 1)[1]
        resources = [
            {"name": f"{resource}/{name}", "singularName": "", "namespaced": True, "kind": "MetricValueList",
             "verbs": ["get"]}
            for resource, name in sorted(self.rules)
        ]  # fmt: skip
        return web.json_response({"kind": "APIResourceList", "apiVersion": "v1",
                                  "groupVersion": f"{GROUP}/{version}", "resources": resources})  # fmt: skip

    def _pod_names(self, namespace: str, name: str, selector: Selector) -> list[str]:
        return sorted(
            p.metadata.name
            for p in self.pods.store.list()
            if p.metadata.namespace == namespace and (name == "*" or p.metadata.name == name)
            and selector.matches(p.metadata.labels)
        )  # fmt: skip

    async def _metric(self, request: web.Request) -> web.Response:
        namespace, name, metric = (request.match_info[k] for k in ("namespace", "name", "metric"))
        version = request.path.split("/")[3]
        resource = plural(request.match_info["resource"])
        rule = self.rules.get((resource, metric))
        if rule is None:
            return status(404, "NotFound", f"the server could not find the metric {metric} for {resource}")
        try:
            selector = selector_param(request, "labelSelector")
            metric_selector = selector_param(request, "metricLabelSelector")
            if resource == "pods":
                names: list[str] | None = self._pod_names(namespace, name, selector)
            elif not selector.empty():
                raise ValueError(f"labelSelector: only pods are selected by label here, not {resource}")
            else:
                names = None if name == "*" else [name]
            samples = []
            if names is None or names:
                samples = await self.prometheus.query(object_query(rule, namespace, resource, names, metric_selector))
        except ValueError as exc:
            return status(400, "BadRequest", str(exc))
        except PrometheusError as exc:
            return status(503, "ServiceUnavailable", str(exc))
        kind, api_version = described(resource)
        items = []
        for sample in samples:
            object_name = sample.labels.get(rule.labels[resource], "")
            if not object_name or (names is not None and object_name not in names):
                continue
            item: dict[str, Any] = {
                "describedObject": {"kind": kind, "namespace": namespace, "name": object_name,
                                    "apiVersion": api_version},
                "timestamp": rfc3339(sample.timestamp), "value": milli_quantity(sample.value),
            }  # fmt: skip
            if version == "v1beta1":
                item["metricName"] = metric
            else:
                item["metric"] = {"name": metric}
            items.append(item)
        if name != "*" and not items:
            return status(404, "NotFound", f"the server could not find the metric {metric} for {resource} {name}")
        return web.json_response(
            {"kind": "MetricValueList", "apiVersion": f"{GROUP}/{version}", "metadata": {}, "items": items}
        )
