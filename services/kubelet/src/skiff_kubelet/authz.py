"""Who may call the kubelet's API: Kubernetes' kubelet authorization (`--authorization-mode`).

`AlwaysAllow` (the bare binary's default, as the kubelet's own) lets every caller whose certificate
chains to the cluster CA do anything. `Webhook` (what `skiff up` runs, as kubeadm does) asks the
apiserver, with a SubjectAccessReview sent under the kubelet's own credentials (`system:node` may create
them), whether the caller may act on this Node's subresource -- so RBAC, not possession of *any* cluster
certificate, decides who gets a root shell in a pod.

The attributes are the kubelet's (`pkg/kubelet/server/auth.go`): the verb from the HTTP method, resource
`nodes`, name the node, and the subresource from the path -- `/stats/*` stats, `/metrics/*` metrics,
`/logs/*` log, `/spec/*` spec, and everything else (exec, attach, portForward, containerLogs, run)
proxy. The fine-grained subresources of KEP-2862 (`/pods` pods, `/healthz` healthz, `/configz` configz)
fall back to proxy, so old grants keep working. Skiff's kubelet API is gRPC: each RPC is checked as the
HTTP request it stands for (`RPC_REQUESTS`); the stats port's HTTPS requests (/metrics/*, /stats/*) are
checked as themselves (stats/auth.py).

Decisions are cached as the webhook authorizer caches them (5 m allowed, 30 s denied by default), so an
exec storm costs one review; a failed review is not cached and fails closed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from skiff.api.authorization.v1 import authorization_pb2 as az
from skiff_common import errors
from skiff_common.observability import get_logger
from skiff_common.pki import peer_identity

log = get_logger(__name__)

ALWAYS_ALLOW = "AlwaysAllow"
WEBHOOK = "Webhook"
MODES = (ALWAYS_ALLOW, WEBHOOK)
ANONYMOUS = ("system:anonymous", ("system:unauthenticated",))
AUTHENTICATED = "system:authenticated"

_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_SUBPATHS = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"))
_FINE_GRAINED = (("/pods", "pods"), ("/healthz", "healthz"), ("/configz", "configz"))

# The kubelet API's RPCs, each as the kubelet HTTP request it replaces.
RPC_REQUESTS: dict[str, tuple[str, str]] = {
    "ContainerLogs": ("GET", "/containerLogs"),
    "Exec": ("POST", "/exec"),
    "ExecStream": ("POST", "/exec"),  # attach too: POST /attach, also nodes/proxy
    "PortForwardStream": ("POST", "/portForward"),
}


def _is_subpath(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def verb_for(method: str) -> str:
    """The authorization verb of an HTTP method ("" for one the kubelet does not map)."""
    return _VERBS.get(method.upper(), "")


def subresources_for(path: str) -> tuple[str, ...]:
    """The subresources to try in order: the first allowed one grants the request."""
    for root, sub in _SUBPATHS:
        if _is_subpath(path, root):
            return (sub,)
    for root, sub in _FINE_GRAINED:
        if _is_subpath(path, root):
            return (sub, "proxy")
    return ("proxy",)


@dataclass(frozen=True)
class Request:
    user: str
    groups: tuple[str, ...]
    verb: str
    subresource: str
    node: str

    def describe(self) -> str:
        return f"user={self.user}, verb={self.verb}, resource=nodes, subresource={self.subresource}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class Reviewer(Protocol):
    async def create(self, obj: Any) -> Any: ...


class DecisionCache:
    """Allowed and denied answers with their own TTLs, at most `size` entries (oldest dropped first)."""

    def __init__(
        self, allowed_ttl: float, denied_ttl: float, size: int = 1024, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.allowed_ttl, self.denied_ttl, self.size, self.clock = allowed_ttl, denied_ttl, size, clock
        self._entries: OrderedDict[Request, tuple[Decision, float]] = OrderedDict()

    def get(self, req: Request) -> Decision | None:
        hit = self._entries.get(req)
        if hit is None:
            return None
        if hit[1] <= self.clock():
            del self._entries[req]
            return None
        return hit[0]

    def put(self, req: Request, decision: Decision) -> None:
        ttl = self.allowed_ttl if decision.allowed else self.denied_ttl
        if ttl <= 0:
            return
        self._entries[req] = (decision, self.clock() + ttl)
        self._entries.move_to_end(req)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


class WebhookAuthorizer:
    """Decides by SubjectAccessReview through `api` (the kubelet's own client)."""

    def __init__(self, api: Reviewer, cache: DecisionCache) -> None:
        self.api, self.cache = api, cache

    async def decide(self, req: Request) -> Decision:
        cached = self.cache.get(req)
        if cached is not None:
            return cached
        review = az.SubjectAccessReview()
        review.spec.user = req.user
        review.spec.groups.extend(req.groups)
        attrs = review.spec.resource_attributes
        attrs.verb, attrs.resource, attrs.subresource, attrs.name, attrs.version = (
            req.verb, "nodes", req.subresource, req.node, "v1",
        )  # fmt: skip
        answer = await self.api.create(review)  # errors propagate: never cached, the caller fails closed
        decision = Decision(bool(answer.status.allowed), answer.status.reason)
        self.cache.put(req, decision)
        return decision


class ApiAuthorizer:
    """The check every kubelet RPC makes before touching a pod."""

    def __init__(self, mode: str, node: str, webhook: WebhookAuthorizer | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"--authorization-mode: {mode!r} is not one of {', '.join(MODES)}")
        if mode == WEBHOOK and webhook is None:
            raise ValueError("--authorization-mode: Webhook needs the apiserver client")
        self.mode, self.node, self.webhook = mode, node, webhook

    async def check(self, context: Any, rpc: str) -> None:
        """Raise Forbidden (or Unavailable when the apiserver cannot answer) unless the caller may."""
        if self.mode == ALWAYS_ALLOW or self.webhook is None:
            return
        method, path = RPC_REQUESTS[rpc]
        who = peer_identity(context.auth_context())
        user, groups = (who.user, (*who.groups, AUTHENTICATED)) if who and who.user else ANONYMOUS
        await self.authorize(user, groups, method, path)

    async def authorize(self, user: str, groups: tuple[str, ...], method: str, path: str) -> None:
        """The check of one kubelet HTTP request (the stats port's, stats/auth.py, or an RPC's stand-in)."""
        if self.mode == ALWAYS_ALLOW or self.webhook is None:
            return
        verb = verb_for(method)
        last: Request | None = None
        for sub in subresources_for(path):
            last = Request(user, groups, verb, sub, self.node)
            try:
                decision = await self.webhook.decide(last)
            except Exception as exc:  # any failure to get an answer fails closed
                log.warning("kubelet.authorization_error", request=last.describe(), error=str(exc))
                raise errors.Unavailable(f"Authorization error ({last.describe()})") from None
            if decision.allowed:
                return
        assert last is not None
        log.info("kubelet.forbidden", request=last.describe())
        raise errors.Forbidden(f"Forbidden ({last.describe()})")
