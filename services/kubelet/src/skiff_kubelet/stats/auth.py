"""Who may read the kubelet's stats and metrics: the kubelet server's authentication and authorization
(`pkg/kubelet/server/auth.go`) on the HTTPS stats port.

* Authentication, as kubeadm configures the kubelet (`--anonymous-auth=false`, x509 + token webhook): a
  client certificate chaining to the cluster CA names the caller (CN user, O groups); otherwise a bearer
  token is sent to the apiserver as a TokenReview (the kubelet's `--authentication-token-webhook`), its
  answer cached for `token_ttl` (2 m, the kubelet's default; refusals 10 s). Neither: 401 Unauthorized.
* Authorization: the same `ApiAuthorizer` as the gRPC API (authz.py), so the attributes are the kubelet's
  own -- verb from the method, `nodes/<this node>`, subresource `metrics` for /metrics/*, `stats` for
  /stats/*, `proxy` for anything else -- and Webhook mode asks the apiserver by SubjectAccessReview.
  Forbidden: 403 with the kubelet's text; no answer from the apiserver: 500 "Authorization error".
* The health endpoints (/healthz, /livez, /readyz and their checks) stay open, so a probe needs no
  identity; they say only whether the kubelet is up.
"""

from __future__ import annotations

import hashlib
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from cryptography import x509
from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff_common import errors
from skiff_common.grpcutil import TLSConfig
from skiff_common.observability import get_logger, health
from skiff_common.pki.identity import identity_of

from skiff_kubelet.authz import AUTHENTICATED, ApiAuthorizer

log = get_logger(__name__)
TOKEN_TTL = 120.0
TOKEN_DENIED_TTL = 10.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
User = tuple[str, tuple[str, ...]]


def serving_context(tls: TLSConfig) -> ssl.SSLContext:
    """The kubelet's serving certificate; a client certificate is asked for but optional (a token or a
    health probe comes without one), and verified against the cluster CA when sent."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=tls.ca_file)
    ctx.load_cert_chain(tls.cert_file, tls.key_file)
    ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def is_open(path: str) -> bool:
    return any(path == f"/{e}" or path.startswith(f"/{e}/") for e in health.ENDPOINTS)


def certificate_user(request: web.Request) -> User | None:
    ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        return None
    who = identity_of(x509.load_der_x509_certificate(der))
    return (who.user, (*who.groups, AUTHENTICATED)) if who.user else None


class TokenAuthenticator:
    """Bearer tokens by TokenReview through `api` (the kubelet's own client: system:node may create them)."""

    def __init__(
        self, api: Any, ttl: float = TOKEN_TTL, denied_ttl: float = TOKEN_DENIED_TTL, size: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:  # fmt: skip
        self.api, self.ttl, self.denied_ttl, self.size, self.clock = api, ttl, denied_ttl, size, clock
        self._cache: OrderedDict[str, tuple[User | None, float]] = OrderedDict()

    async def authenticate(self, token: str) -> User | None:
        key = hashlib.sha256(token.encode()).hexdigest()  # the token itself is never kept
        hit = self._cache.get(key)
        if hit is not None and hit[1] > self.clock():
            return hit[0]
        review = an.TokenReview()
        review.spec.token = token
        answer = await self.api.create(review)  # errors propagate: nothing cached, the request fails
        status = answer.status
        user = (status.user.username, tuple(status.user.groups)) if status.authenticated else None
        self._cache[key] = (user, self.clock() + (self.ttl if user else self.denied_ttl))
        self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)
        return user


class StatsAuth:
    """The aiohttp middleware in front of every stats and metrics endpoint."""

    def __init__(self, authorizer: ApiAuthorizer, tokens: TokenAuthenticator | None) -> None:
        self.authorizer, self.tokens = authorizer, tokens

    async def identify(self, request: web.Request) -> User | None:
        user = certificate_user(request)
        if user is not None:
            return user
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip() or self.tokens is None:
            return None
        return await self.tokens.authenticate(token.strip())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if is_open(request.path):
            return await handler(request)
        try:
            user = await self.identify(request)
        except errors.SkiffError as exc:
            log.warning("stats.authentication_error", error=str(exc))
            return web.Response(status=500, text="Authentication error")
        if user is None:
            return web.Response(status=401, text="Unauthorized")
        try:
            await self.authorizer.authorize(user[0], user[1], request.method, request.path)
        except errors.Forbidden as exc:
            return web.Response(status=403, text=exc.message)
        except errors.Unavailable as exc:
            return web.Response(status=500, text=exc.message)
        return await handler(request)
