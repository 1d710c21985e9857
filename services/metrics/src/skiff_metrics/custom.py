"""custom.metrics.k8s.io/v1beta1 for pods, answered from Prometheus (what prometheus-adapter does).

A rule file maps Prometheus series to metrics, in prometheus-adapter's terms (a subset):

    rules:
      - seriesQuery: 'http_requests_total{namespace!="",pod!=""}'
        name: {matches: "^(.*)_total$", as: "${1}_per_second"}
        metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)'

A request for `namespaces/<ns>/pods/<name or *>/<metric>?labelSelector=...` picks the pods from the
informer cache, renders the rule's query with `namespace="<ns>",pod=~"a|b"` and `pod`, runs it through
Prometheus' HTTP API (`/api/v1/query`) and answers a MetricValueList, one value per pod, in milli-units.
Prometheus is queried over its plain HTTP API with aiohttp: the Python client libraries for it add
pandas and matplotlib for what is one GET here.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from skiff.api.core.v1 import pod_pb2
from skiff_client import Informer
from skiff_common.apimachinery.labels import parse_selector

GROUP_VERSION = "custom.metrics.k8s.io/v1beta1"
PREFIX = "/apis/custom.metrics.k8s.io/v1beta1"


@dataclass(frozen=True)
class Rule:
    series: str
    name: str
    query: str


def load_rules(path: str) -> list[Rule]:
    """The rule file; a ValueError names the rule and field that are wrong."""
    try:
        data = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"--custom-metrics-rules: {exc}") from None
    rules = []
    for i, r in enumerate(data.get("rules") or []):
        series_query = str(r.get("seriesQuery", ""))
        series = series_query.split("{", 1)[0].strip()
        if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", series):
            raise ValueError(f"--custom-metrics-rules: rules[{i}].seriesQuery: no metric name in {series_query!r}")
        name = series
        if r.get("name"):
            matches, as_ = r["name"].get("matches", "^(.*)$"), r["name"].get("as", "${1}")
            name = re.sub(matches, re.sub(r"\$\{(\d+)\}", r"\\\1", as_), series)
        query = str(r.get("metricsQuery", "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"))
        rules.append(Rule(series, name, query))
    return rules


def render(rule: Rule, namespace: str, pods: list[str]) -> str:
    # Pod names are DNS names: '.' is their only regex metacharacter, escaped as \\. inside a PromQL string.
    alternatives = "|".join(p.replace(".", "\\\\.") for p in pods)
    matchers = f'namespace="{namespace}",pod=~"{alternatives}"'
    return (
        rule.query.replace("<<.Series>>", rule.series)
        .replace("<<.LabelMatchers>>", matchers)
        .replace("<<.GroupBy>>", "pod")
    )


def milli_quantity(value: float) -> str:
    milli = round(value * 1000)
    return f"{milli // 1000}" if milli % 1000 == 0 else f"{milli}m"


def _status(code: int, reason: str, message: str) -> web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}  # fmt: skip
    return web.json_response(body, status=code)


class CustomMetricsApi:
    def __init__(self, rules: list[Rule], prometheus_url: str, pods: Informer[pod_pb2.Pod]) -> None:
        self.rules = {r.name: r for r in rules}
        self.prometheus = prometheus_url.rstrip("/")
        self.pods = pods
        self._session: aiohttp.ClientSession | None = None

    def install(self, app: web.Application) -> None:
        app.router.add_get(PREFIX, self._resources)
        app.router.add_get(PREFIX + "/namespaces/{namespace}/pods/{name}/{metric}", self._pod_metric)
        app.on_cleanup.append(self._close)

    async def _close(self, app: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _resources(self, request: web.Request) -> web.Response:
        resources = [
            {
                "name": f"pods/{name}",
                "singularName": "",
                "namespaced": True,
                "kind": "MetricValueList",
                "verbs": ["get"],
            }
            for name in sorted(self.rules)
        ]
        return web.json_response({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GROUP_VERSION,
                                  "resources": resources})  # fmt: skip

    async def query(self, promql: str) -> list[dict[str, Any]]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.get(f"{self.prometheus}/api/v1/query", params={"query": promql}) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise ValueError(f"prometheus: {body.get('error', 'query failed')}")
        return list(body["data"]["result"])

    async def _pod_metric(self, request: web.Request) -> web.Response:
        namespace, name, metric = (request.match_info[k] for k in ("namespace", "name", "metric"))
        rule = self.rules.get(metric)
        if rule is None:
            return _status(404, "NotFound", f"the server could not find the metric {metric} for pods")
        try:
            selector = parse_selector(request.query.get("labelSelector", ""))
        except ValueError as exc:
            return _status(400, "BadRequest", f"labelSelector: {exc}")
        pods = [
            p.metadata.name
            for p in self.pods.store.list()
            if p.metadata.namespace == namespace and (name == "*" or p.metadata.name == name)
            and selector.matches(p.metadata.labels)
        ]  # fmt: skip
        items = []
        if pods:
            try:
                result = await self.query(render(rule, namespace, sorted(pods)))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                return _status(503, "ServiceUnavailable", f"unable to fetch metrics from prometheus: {exc}")
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            for row in result:
                pod = row.get("metric", {}).get("pod", "")
                if pod in pods:
                    items.append({
                        "describedObject": {"kind": "Pod", "namespace": namespace, "name": pod, "apiVersion": "/v1"},
                        "metricName": metric, "timestamp": stamp, "value": milli_quantity(float(row["value"][1])),
                    })  # fmt: skip
        if name != "*" and not items:
            return _status(404, "NotFound", f"the server could not find the metric {metric} for pods {name}")
        return web.json_response(
            {"kind": "MetricValueList", "apiVersion": GROUP_VERSION, "metadata": {}, "items": items}
        )
