"""Prometheus metrics of the apiserver, in kube-apiserver's names and labels (registered once, on import).

Operators bring dashboards and alerts written for Kubernetes (the kubernetes-mixin's API error budget,
latency by verb and resource); they work unchanged only if the series are named and labelled as
kube-apiserver's: `apiserver_request_total{verb="LIST",group="apps",resource="deployments",code="200"}`.
Both front doors (gRPC and REST) call `requests.get(verb, resource, code)` with the apiserver's own verb
("create", "update_status", "rest_list"...), resource ("pods/status") and outcome (a gRPC code name or an
error class name); `_Translated` turns each distinct triple into Kubernetes' labels once and caches the
child, so the hot path stays one dictionary lookup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from skiff_common.apimachinery import kinds
from skiff_common.observability.metrics import LabelCache

_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60)
_ETCD_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_REQUEST_LABELS = ["verb", "dry_run", "group", "version", "resource", "subresource", "scope", "component"]

REQUESTS = Counter(
    "apiserver_request_total",
    "Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, "
    "component, and HTTP response code.",
    [*_REQUEST_LABELS, "code"],
)
LATENCY = Histogram(
    "apiserver_request_duration_seconds",
    "Response latency distribution in seconds for each verb, dry run value, group, version, resource, "
    "subresource, scope and component (long-running requests excluded).",
    _REQUEST_LABELS,
    buckets=_BUCKETS,
)
INFLIGHT = Gauge(
    "apiserver_current_inflight_requests",
    "Maximal number of currently used inflight request limit of this apiserver per request kind in last second.",
    ["request_kind"],
).labels("readOnly")  # Skiff has one inflight budget for every request; Kubernetes splits mutating off
WATCHERS = Gauge(
    "apiserver_registered_watchers",
    "Number of currently registered watchers for a given resources",
    ["group", "version", "kind"],
)
ETCD_LATENCY = Histogram(
    "etcd_request_duration_seconds",
    "Etcd request latency in seconds for each operation and object type.",
    ["operation", "type"],
    buckets=_ETCD_BUCKETS,
)
OBJECTS = Gauge(
    "apiserver_storage_objects", "Number of stored objects at the time of last check split by kind.", ["resource"]
)
WATCH_EVENTS = Counter(
    "apiserver_watch_events_total", "Number of events sent in watch clients", ["group", "version", "kind"]
)
SLOW_WATCHERS = Counter(
    "apiserver_terminated_watchers_total", "Counter of watchers closed due to unresponsiveness.", ["resource"]
)
# The lease endpoint reconciler (registry/endpointreconciler.py): Skiff's own, Kubernetes exports none.
ENDPOINT_RECONCILES = Counter(
    "apiserver_kubernetes_endpoints_reconciles_total",
    "Passes of the lease endpoint reconciler over the kubernetes Service's endpoints, by result "
    "(written, unchanged, error).",
    ["result"],
)
LIVE_MASTERS = Gauge(
    "apiserver_kubernetes_endpoints_masters", "Apiservers with a live master lease at this apiserver's last pass."
)

# Kubernetes' verb names: the HTTP method, with LIST / WATCH / DELETECOLLECTION / CONNECT / APPLY split off.
_VERBS = {
    "get": "GET",
    "list": "LIST",
    "watch": "WATCH",
    "create": "POST",
    "update": "PUT",
    "update_status": "PUT",
    "patch": "PATCH",
    "apply": "APPLY",
    "delete": "DELETE",
    "deletecollection": "DELETECOLLECTION",
    "bind": "POST",
    "get_scale": "GET",
    "update_scale": "PUT",
    "list_resources": "GET",
    "log": "GET",
    "exec": "CONNECT",
    "attach": "CONNECT",
    "portforward": "CONNECT",
    "proxy": "CONNECT",
}
# Subresources the gRPC verbs imply (REST requests name theirs in the resource: "pods/status").
_IMPLIED_SUBRESOURCE = {
    "update_status": "status",
    "bind": "binding",
    "get_scale": "scale",
    "update_scale": "scale",
    "log": "log",
    "exec": "exec",
}
# Outcome -> HTTP status. gRPC code names and error class names both occur; success depends on the verb.
_CODES = {
    "Invalid": 422,
    "BadRequest": 400,
    "INVALID_ARGUMENT": 400,
    "NotFound": 404,
    "NOT_FOUND": 404,
    "AlreadyExists": 409,
    "ALREADY_EXISTS": 409,
    "Conflict": 409,
    "ABORTED": 409,
    "Expired": 410,
    "OUT_OF_RANGE": 410,
    "Forbidden": 403,
    "PERMISSION_DENIED": 403,
    "Unauthenticated": 401,
    "UNAUTHENTICATED": 401,
    "TooManyRequests": 429,
    "RESOURCE_EXHAUSTED": 429,
    "Timeout": 504,
    "DEADLINE_EXCEEDED": 504,
    "Unavailable": 503,
    "UNAVAILABLE": 503,
    "FailedPrecondition": 409,
    "FAILED_PRECONDITION": 409,
    "InternalError": 500,
    "INTERNAL": 500,
    "UNKNOWN": 500,
    "UnknownError": 500,
    "Unimplemented": 405,
    "UNIMPLEMENTED": 405,
    "MethodNotAllowed": 405,
    "UnsupportedMediaType": 415,
    "Cancelled": 499,
    "CANCELLED": 499,
}


@lru_cache(maxsize=4096)
def request_labels(verb: str, resource: str) -> tuple[str, ...]:
    """Kubernetes' request labels (without code) for one of the apiserver's own (verb, resource) pairs."""
    verb = verb.removeprefix("rest_")
    name, _, subresource = resource.partition("/")
    subresource = subresource or _IMPLIED_SUBRESOURCE.get(verb, "")
    group = version = ""
    namespaced = True
    if name:
        try:
            info = kinds.lookup_resource(name)
            group, version, namespaced, name = info.group, info.version, info.namespaced, info.resource
        except Exception:  # an unknown resource is still counted, under the name it was asked by
            pass
    k8s_verb = _VERBS.get(verb, verb.upper())
    if k8s_verb in ("LIST", "WATCH", "POST", "DELETECOLLECTION") and not subresource:
        scope = "namespace" if namespaced else "cluster"
    else:
        scope = "resource" if name else ""
    return (k8s_verb, "", group, version, name, subresource, scope, "apiserver")


def http_code(verb: str, outcome: str) -> str:
    """The HTTP status Kubernetes would have answered: 201 for a create, 200 for other successes."""
    if outcome in ("OK", "", "200"):
        return "201" if verb.removeprefix("rest_") == "create" else "200"
    if outcome.isdigit():
        return outcome
    return str(_CODES.get(outcome, 500))


M = TypeVar("M")


class _Translated(Generic[M]):
    """Children of a request metric looked up by the apiserver's own labels, cached per distinct tuple."""

    def __init__(self, metric: M, *, with_code: bool) -> None:
        self._metric = metric
        self._with_code = with_code
        self._children: dict[tuple[str, ...], M] = {}

    def get(self, verb: str, resource: str, code: str = "") -> M:
        key = (verb, resource, code)
        child = self._children.get(key)
        if child is None:
            labels = request_labels(verb, resource)
            if self._with_code:
                labels = (*labels, http_code(verb, code))
            child = self._children[key] = self._metric.labels(*labels)  # type: ignore[attr-defined]
        return child


class _ByResource(Generic[M]):
    """Children labelled (group, version, kind) looked up by the plural resource name the caches know."""

    def __init__(self, metric: M) -> None:
        self._metric = metric
        self._children: dict[str, M] = {}

    def get(self, resource: str) -> M:
        child = self._children.get(resource)
        if child is None:
            try:
                info = kinds.lookup_resource(resource)
                labels = (info.group, info.version, info.kind)
            except Exception:
                labels = ("", "", resource)
            child = self._children[resource] = self._metric.labels(*labels)  # type: ignore[attr-defined]
        return child


def _storage_resource(resource: str) -> str:
    """apiserver_storage_objects names a resource `deployments.apps` (group-qualified) as Kubernetes does."""
    try:
        info = kinds.lookup_resource(resource)
    except Exception:
        return resource
    return f"{info.resource}.{info.group}" if info.group else info.resource


class _Objects:
    def __init__(self) -> None:
        self._children: dict[str, Gauge] = {}

    def get(self, resource: str) -> Gauge:
        child = self._children.get(resource)
        if child is None:
            child = self._children[resource] = OBJECTS.labels(_storage_resource(resource))
        return child


class _EtcdLatency:
    def __init__(self) -> None:
        self._children: dict[tuple[str, str], Histogram] = {}

    def get(self, operation: str, type_: str = "") -> Histogram:
        child = self._children.get((operation, type_))
        if child is None:
            child = self._children[(operation, type_)] = ETCD_LATENCY.labels(operation, type_)
        return child


requests = _Translated[Counter](REQUESTS, with_code=True)
latency = _Translated[Histogram](LATENCY, with_code=False)
etcd_latency = _EtcdLatency()
watch_events = _ByResource[Counter](WATCH_EVENTS)
watchers = _ByResource[Gauge](WATCHERS)
objects = _Objects()
slow_watchers = LabelCache[Counter](SLOW_WATCHERS)
