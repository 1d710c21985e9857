"""One client layer: the Kubernetes REST API, JSON over HTTPS.

Why REST rather than Skiff's gRPC: the standard kubeconfig that `skiff up` merges (and every other
cluster's) names an HTTPS server, so `skiff` and kubectl read one file and reach one endpoint; the server
prints tables (`as=Table`) with kubectl's own columns for every kind, so there is no second copy of the
printers; strategic merge patch, server-side apply, dry-run, eviction, discovery and OpenAPI (for
`explain`) are REST features; and `skiff` then works against any Kubernetes cluster too. Each verb is
written once, against this class. Requests are synchronous (a CLI does one thing at a time); watches and
logs stream line by line.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
import urllib3
from opentelemetry import propagate

from .config import Target
from .errors import ApiError, CliError, refused

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
PATCH_TYPES = {
    "strategic": "application/strategic-merge-patch+json",
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
USER_AGENT = "skiff/0.1.0"


class Rest:
    def __init__(self, target: Target, *, timeout: float | None = None) -> None:
        self.target = target
        self.base = target.server.rstrip("/")
        self.timeout = timeout
        s = requests.Session()
        # Only the kubeconfig decides trust: no CA bundle or proxy from the environment (requests would let
        # REQUESTS_CA_BUNDLE override the cluster's CA).
        s.trust_env = False
        s.headers["User-Agent"] = USER_AGENT
        if target.insecure:
            s.verify = False
            urllib3.disable_warnings()
        elif target.ca_file:
            s.verify = target.ca_file
        if target.cert_file:
            s.cert = (target.cert_file, target.key_file)
        if target.token:
            s.headers["Authorization"] = f"Bearer {target.token}"
        elif target.username:
            s.auth = (target.username, target.password)
        self.session = s

    @property
    def hostport(self) -> str:
        return urlsplit(self.base).netloc

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        accept: str = "application/json",
        stream: bool = False,
        raw: bool = False,
        timeout: float | None = None,
    ) -> Any:
        url = self.base + path
        if params:
            url += "?" + urlencode({k: v for k, v in params.items() if v not in (None, "", False)}, doseq=True)
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        for attempt in range(5):
            r = self._send(method, url, data, content_type, accept, stream, timeout)
            # A patch carries no resourceVersion: a conflict only means another writer came between the
            # server's read and write, and Kubernetes' apiserver retries that itself. Ours may not.
            if not (r.status_code == 409 and method == "PATCH" and attempt < 4):
                break
        if r.status_code >= 400:
            raise _api_error(r)
        if stream or raw:
            return r
        return r.json() if r.content else {}

    def _send(
        self, method: str, url: str, data: Any, content_type: str, accept: str, stream: bool, timeout: float | None
    ) -> requests.Response:
        headers = {"Content-Type": content_type, "Accept": accept}
        propagate.inject(headers)  # the command's trace continues in the apiserver (skiff_cli.tracing)
        try:
            return self.session.request(
                method,
                url,
                data=data,
                headers=headers,
                stream=stream,
                timeout=timeout or self.timeout,
            )
        except requests.exceptions.SSLError as err:
            raise CliError(f"Unable to connect to the server: {_short(err)}") from None
        except requests.exceptions.ConnectionError as err:
            if "refused" in str(err).lower():
                raise refused(self.hostport) from None
            raise CliError(f"Unable to connect to the server: {_short(err)}") from None
        except requests.exceptions.Timeout:
            raise CliError(f"Unable to connect to the server: timeout talking to {self.hostport}") from None

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def watch(self, path: str, params: dict[str, Any], *, accept: str = "application/json") -> Iterator[dict[str, Any]]:
        """Events of a watch, one per line of the chunked response."""
        r = self.request("GET", path, params={**params, "watch": "1"}, stream=True, accept=accept)
        with r:
            for line in r.iter_lines(chunk_size=None):
                if line:
                    yield json.loads(line)


def _short(err: Exception) -> str:
    text = str(err)
    return text.split("Caused by ")[-1].rstrip(")") if "Caused by " in text else text


def _api_error(r: requests.Response) -> ApiError:
    try:
        status = r.json()
    except ValueError:
        status = {}
    if not isinstance(status, dict) or status.get("kind") != "Status":
        text = r.text.strip() or r.reason
        status = {"reason": _REASONS.get(r.status_code, ""), "message": f"the server responded {text}"}
    return ApiError(status, r.status_code)


_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
}
