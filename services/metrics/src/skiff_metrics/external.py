"""external.metrics.k8s.io/v1beta1 answered from Prometheus, as prometheus-adapter's externalRules do:
a metric of no Kubernetes object (a queue's length, a load balancer's request rate).

    GET /apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=...
      -> the external rule (rules.py) named <metric>
      -> its query, with namespace="<ns>" (unless the rule says namespaced: false) and the label
         selector as PromQL matchers (=, !=, in, notin, exists, !exists)
      -> an ExternalMetricValueList: one item per series, with the series' labels as metricLabels

The HPA sums the items of an External metric, so a rule that groups by nothing yields one number.
"""

from __future__ import annotations

from aiohttp import web

from skiff_metrics.custom import milli_quantity, rfc3339, selector_param, status
from skiff_metrics.prometheus import Prometheus, PrometheusError
from skiff_metrics.rules import Rule, external_query

GROUP_VERSION = "external.metrics.k8s.io/v1beta1"
PREFIX = "/apis/" + GROUP_VERSION


class ExternalMetricsApi:
    def __init__(self, rules: list[Rule], prometheus: Prometheus) -> None:
        self.rules = {r.name: r for r in rules}
        self.prometheus = prometheus

    def install(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self._resources)
        app.router.add_get(PREFIX + "/namespaces/{namespace}/{metric}", self._metric)

    async def _resources(self, request: web.Request) -> web.Response:
        resources = [
            {"name": name, "singularName": "", "namespaced": True, "kind": "ExternalMetricValueList",
             "verbs": ["get"]}
            for name in sorted(self.rules)
        ]  # fmt: skip
        return web.json_response(
            {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION, "resources": resources}
        )

    async def _metric(self, request: web.Request) -> web.Response:
        namespace, metric = request.match_info["namespace"], request.match_info["metric"]
        rule = self.rules.get(metric)
        if rule is None:
            return status(404, "NotFound", f"the server could not find the requested resource (external metric "
                                           f"{metric})")  # fmt: skip
        try:
            query = external_query(rule, namespace, selector_param(request, "labelSelector"))
            samples = await self.prometheus.query(query)
        except ValueError as exc:
            return status(400, "BadRequest", str(exc))
        except PrometheusError as exc:
            return status(503, "ServiceUnavailable", str(exc))
        items = [
            {"metricName": metric, "metricLabels": {k: v for k, v in s.labels.items() if k != "__name__"},
             "timestamp": rfc3339(s.timestamp), "value": milli_quantity(s.value)}
            for s in samples
        ]  # fmt: skip
        return web.json_response(
            {"kind": "ExternalMetricValueList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
        )
