"""Reads the metrics APIs over the apiserver's REST port, as Kubernetes' HPA does through the aggregation
layer: pod usage from `metrics.k8s.io/v1beta1` PodMetrics (one LIST per HPA sync, filtered by the target's
label selector), Pods and Object metrics from `custom.metrics.k8s.io/v1beta1` and External metrics from
`external.metrics.k8s.io/v1beta1`. Values become thousandths (`MilliValue()`), with each pod's timestamp
and window, which the CPU initialization rules need.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime
from typing import Any

from skiff_common import errors
from skiff_common.apimachinery.kinds import lookup_kind
from skiff_common.apimachinery.quantity import milli_value
from skiff_common.grpcutil import TLSConfig

from skiff_controllers.horizontalpodautoscaler.replicas import MetricsError, PodMetric


def _seconds(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() if ts else 0.0


def _window(text: str) -> float:
    try:
        return float(text.rstrip("s")) if text else 0.0
    except ValueError:
        return 0.0


def resource_metric(items: list[dict[str, Any]], resource: str, container: str = "") -> dict[str, PodMetric]:
    """Per-pod usage as Kubernetes' getPodMetrics / getContainerMetrics: a pod with any container lacking
    the resource is left out (it then counts as missing)."""
    out: dict[str, PodMetric] = {}
    for item in items:
        at, window = _seconds(item.get("timestamp", "")), _window(item.get("window", ""))
        containers = item.get("containers") or []
        name = item["metadata"]["name"]
        if container:
            for c in containers:
                if c.get("name") == container:
                    if resource not in c.get("usage", {}):
                        raise MetricsError(
                            f"failed to get container metrics: resource {resource} not found in container {container}"
                        )
                    out[name] = PodMetric(milli_value(c["usage"][resource]), at, window)
            continue
        if not containers or any(resource not in c.get("usage", {}) for c in containers):
            continue
        out[name] = PodMetric(sum(milli_value(c["usage"][resource]) for c in containers), at, window)
    return out


def _api(url: str) -> str:
    if "/external.metrics.k8s.io/" in url:
        return "external metrics API"
    return "custom metrics API" if "/custom.metrics.k8s.io/" in url else "resource metrics API"


def guess_resource(kind: str) -> str:
    """A kind's plural as apimachinery's UnsafeGuessKindToResource makes it (for kinds Skiff does not
    serve itself, such as an Ingress whose metric a Prometheus rule still describes)."""
    lower = kind.lower()
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return lower + "es"
    if lower.endswith("y") and len(lower) > 1 and lower[-2] not in "aeiou":
        return lower[:-1] + "ies"
    return lower + "s"


def object_resource(api_version: str, kind: str) -> str:
    """The described object's resource as the custom metrics API names it: "services", "deployments.apps"."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    try:
        plural = lookup_kind(api_version or "v1", kind).resource
    except errors.SkiffError:
        plural = guess_resource(kind)
    return f"{plural}.{group}" if group else plural


class ResourceMetricsClient:
    """With `token` (the HPA's ServiceAccount under --use-service-account-credentials) every request
    carries it as a bearer token and no client certificate, so the apiserver authorizes the metrics read
    as the HPA's ServiceAccount (system:controller:horizontal-pod-autoscaler); without, the manager's
    certificate is presented."""

    def __init__(self, server: str, tls: TLSConfig | None, token: Callable[[], str] | None = None) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.context: ssl.SSLContext | None = None
        if tls is not None and self.server.startswith("https://"):
            self.context = ssl.create_default_context(cafile=tls.ca_file)
            if token is None:
                self.context.load_cert_chain(tls.cert_file, tls.key_file)

    def _get(self, url: str) -> dict[str, Any]:
        request = urllib.request.Request(url)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as resp:
                return dict(json.load(resp))
        except urllib.error.HTTPError as err:
            try:
                message = json.load(err).get("message", str(err))
            except ValueError:
                message = str(err)
            raise MetricsError(f"unable to fetch metrics from {_api(url)}: {message}") from None
        except (OSError, ValueError) as err:
            raise MetricsError(f"unable to fetch metrics from {_api(url)}: {err}") from None

    async def pod_metrics(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        return await self._items(
            "resource metrics API", f"metrics.k8s.io/v1beta1/namespaces/{namespace}/pods", selector
        )

    async def _items(self, api: str, path: str, selector: str) -> list[dict[str, Any]]:
        """The non-empty `items` of one metrics API list at /apis/<path>, by label selector."""
        if not self.server:
            raise MetricsError(f"unable to fetch metrics from {api}: no metrics API server configured")
        query = urllib.parse.urlencode({"labelSelector": selector}) if selector else ""
        body = await asyncio.to_thread(self._get, f"{self.server}/apis/{path}" + (f"?{query}" if query else ""))
        items = list(body.get("items") or [])
        if not items:
            raise MetricsError(f"no metrics returned from {api}")
        return items

    async def custom_pod_metric(self, namespace: str, metric: str, selector: str) -> dict[str, PodMetric]:
        """A Pods metric from custom.metrics.k8s.io (e.g. skiff-metrics over Prometheus), in thousandths."""
        path = f"custom.metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/*/{metric}"
        items = await self._items("custom metrics API", path, selector)
        return {
            i["describedObject"]["name"]: PodMetric(milli_value(i["value"]), _seconds(i.get("timestamp", "")), 0.0)
            for i in items
        }

    async def object_metric(self, namespace: str, api_version: str, kind: str, name: str, metric: str,
                            metric_selector: str) -> int:  # fmt: skip
        """GetObjectMetric: the one value describing the object, in thousandths."""
        if not self.server:
            raise MetricsError("no custom metrics API server configured")
        path = f"namespaces/{namespace}/{object_resource(api_version, kind)}/{urllib.parse.quote(name)}/{metric}"
        query = urllib.parse.urlencode({"metricLabelSelector": metric_selector}) if metric_selector else ""
        url = f"{self.server}/apis/custom.metrics.k8s.io/v1beta1/{path}"
        body = await asyncio.to_thread(self._get, url + (f"?{query}" if query else ""))
        items = list(body.get("items") or [])
        if len(items) != 1:
            raise MetricsError(
                "unable to fetch metrics from custom metrics API: the custom metrics API server returned "
                f"{len(items)} results when we asked for exactly one"
            )
        return milli_value(items[0]["value"])

    async def external_metric(self, namespace: str, metric: str, selector: str) -> list[int]:
        """GetExternalMetric: every series matching the selector, in thousandths (the HPA sums them)."""
        items = await self._items(
            "external metrics API", f"external.metrics.k8s.io/v1beta1/namespaces/{namespace}/{metric}", selector
        )
        return [milli_value(i["value"]) for i in items]
