"""Prometheus metrics for gRPC servers and clients, labelled by gRPC service, method and status code.

Names follow the go-grpc-prometheus convention with a `skiff_` prefix, so existing dashboards translate.
The histogram's buckets reach minutes because watches are long-lived server-streaming calls.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

SERVER_HANDLED = Counter(
    "skiff_grpc_server_handled_total",
    "RPCs completed on the server, by status code.",
    ["service", "method", "code"],
)
SERVER_HANDLING_SECONDS = Histogram(
    "skiff_grpc_server_handling_seconds",
    "Time from the start of an RPC to its completion on the server.",
    ["service", "method"],
    buckets=_BUCKETS,
)
CLIENT_HANDLED = Counter(
    "skiff_grpc_client_handled_total",
    "RPCs completed by the client, by status code.",
    ["service", "method", "code"],
)
CLIENT_HANDLING_SECONDS = Histogram(
    "skiff_grpc_client_handling_seconds",
    "Time from the start of an RPC to its completion as seen by the client.",
    ["service", "method"],
    buckets=_BUCKETS,
)

# client-go's names for calls to the apiserver, so Kubernetes' dashboards show each component's view of
# the API: `rest_client_requests_total{code,host,method}` with HTTP codes and methods, as if the call had
# gone over REST (it is the same request, on the gRPC front door).
REST_CLIENT_REQUESTS = Counter(
    "rest_client_requests_total",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ["code", "host", "method"],
)
REST_CLIENT_DURATION = Histogram(
    "rest_client_request_duration_seconds",
    "Request latency in seconds. Broken down by verb, and host.",
    ["host", "verb"],
    buckets=(0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0),
)
APISERVER_SERVICE = "skiff.apiserver.v1.ApiServer"
_HTTP_METHODS = {
    "Create": "POST",
    "Bind": "POST",
    "Get": "GET",
    "List": "GET",
    "Watch": "GET",
    "GetScale": "GET",
    "Update": "PUT",
    "UpdateStatus": "PUT",
    "UpdateScale": "PUT",
    "Patch": "PATCH",
    "Delete": "DELETE",
}
_HTTP_CODES = {
    "OK": 200,
    "INVALID_ARGUMENT": 400,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "ABORTED": 409,
    "FAILED_PRECONDITION": 409,
    "OUT_OF_RANGE": 410,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "DEADLINE_EXCEEDED": 504,
    "UNAVAILABLE": 503,
    "UNIMPLEMENTED": 405,
    "CANCELLED": 499,
}


def http_method(grpc_method: str) -> str:
    """The HTTP method the same apiserver call would have used over REST."""
    return _HTTP_METHODS.get(grpc_method, "POST")


def http_code(code_name: str, grpc_method: str = "") -> str:
    """The HTTP status the same outcome would have had over REST (client-go labels codes this way)."""
    if code_name == "OK" and grpc_method == "Create":
        return "201"
    return str(_HTTP_CODES.get(code_name, 500))
