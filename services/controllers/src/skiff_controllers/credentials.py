"""--use-service-account-credentials: each controller writes as its own ServiceAccount.

kube-controller-manager's own identity (system:kube-controller-manager) may list and watch everything
and obtain ServiceAccount tokens, but write almost nothing; with this flag each controller gets a client
that acts as `system:serviceaccount:kube-system:<its ServiceAccount>`, so the bootstrap
`system:controller:<ServiceAccount>` role applies to it and to nothing else (client-go's
SAControllerClientBuilder). Here that is:

* the ServiceAccount is created in kube-system when missing (the manager's role may create them);
* a token is asked for through TokenRequest (`create serviceaccounts/token`, one hour) and sent as a
  bearer token on the manager's own channel (ApiClient.with_bearer_token);
* a background task asks for a new token once 80% of the old one's life is gone, and at once when the
  old one is refused (an apiserver with a new signing key, a ServiceAccount deleted and made again),
  so a long-running manager never acts with an expired token.

The same token is handed to a controller that calls the REST port itself (the HPA's metrics client,
ControllerContext.bearer_token), so metrics.k8s.io is read as system:serviceaccount:kube-system:
horizontal-pod-autoscaler, not with the manager's certificate.

The shared informers stay on the manager's own client: reads of the cache need no per-controller
identity, as in Kubernetes, where the informer factory uses the root client.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from skiff.api.authentication.v1 import authentication_pb2 as an
from skiff.api.core.v1 import serviceaccount_pb2
from skiff_client import ApiClient
from skiff_common import errors
from skiff_common.observability import get_logger

log = get_logger(__name__)

NAMESPACE = "kube-system"
TOKEN_SECONDS = 3600
REFRESH_AT = 0.8  # of a token's life
RETRY_SECONDS = 5.0
TICK_SECONDS = 30.0  # how often tokens are looked at
PROBE_EVERY = 10  # ticks between asking the apiserver whether it still takes each token


@dataclass
class _Token:
    value: str = ""
    issued: float = 0.0
    expires: float = 0.0

    def stale(self, now: float) -> bool:
        return not self.value or now >= self.issued + (self.expires - self.issued) * REFRESH_AT


class ServiceAccountCredentials:
    """Clients acting as kube-system ServiceAccounts, with tokens kept fresh."""

    def __init__(self, root: ApiClient) -> None:
        self.root = root
        self._tokens: dict[str, _Token] = {}
        self._clients: dict[str, ApiClient] = {}
        self._refresher: asyncio.Task[None] | None = None

    def client(self, service_account: str) -> ApiClient:
        """The client for a controller's ServiceAccount (its token is fetched by ``prepare``)."""
        if service_account not in self._clients:
            self._clients[service_account] = self.root.with_bearer_token(self.token(service_account))
        return self._clients[service_account]

    def token(self, service_account: str) -> Callable[[], str]:
        """The ServiceAccount's current token, for callers outside the gRPC client: the HPA reads the
        metrics APIs on the REST port with it, as Kubernetes' HPA uses its ServiceAccount's rest config."""
        token = self._tokens.setdefault(service_account, _Token())
        return lambda: token.value

    async def prepare(self) -> None:
        """Obtain every token before the controllers start (retrying while the apiserver says no),
        then keep them fresh in the background."""
        for name in list(self._tokens):
            while True:
                try:
                    await self._refresh(name)
                    break
                except errors.SkiffError as exc:
                    log.warning("credentials.token_failed", service_account=name, error=str(exc))
                    await asyncio.sleep(RETRY_SECONDS)
        self._refresher = asyncio.create_task(self._keep_fresh(), name="controller-credentials")

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)
            self._refresher = None

    async def _ensure_service_account(self, name: str) -> None:
        try:
            await self.root.get(serviceaccount_pb2.ServiceAccount, name, NAMESPACE)
        except errors.NotFound:
            sa = serviceaccount_pb2.ServiceAccount()
            sa.metadata.name, sa.metadata.namespace = name, NAMESPACE
            try:
                await self.root.create(sa)
                log.info("credentials.serviceaccount_created", service_account=f"{NAMESPACE}/{name}")
            except errors.AlreadyExists:
                pass

    async def _refresh(self, name: str) -> None:
        await self._ensure_service_account(name)
        req = an.TokenRequest()
        req.metadata.name, req.metadata.namespace = name, NAMESPACE
        req.spec.expiration_seconds = TOKEN_SECONDS
        made = await self.root.create(req)
        now = time.time()
        token = self._tokens.setdefault(name, _Token())
        token.value, token.issued = made.status.token, now
        granted = made.spec.expiration_seconds or TOKEN_SECONDS
        token.expires = now + granted
        log.debug("credentials.token_refreshed", service_account=name, seconds=granted)

    async def _keep_fresh(self) -> None:
        tick = 0
        while True:
            await asyncio.sleep(TICK_SECONDS)
            tick += 1
            now = time.time()
            for name, token in list(self._tokens.items()):
                if token.stale(now) or (tick % PROBE_EVERY == 0 and not await self._accepted(name)):
                    try:
                        await self._refresh(name)
                    except errors.SkiffError as exc:
                        log.warning("credentials.token_failed", service_account=name, error=str(exc))

    async def _accepted(self, name: str) -> bool:
        """Whether the apiserver still takes the token (a self review costs no permission)."""
        if name not in self._clients:
            return True
        try:
            await self._clients[name].create(an.SelfSubjectReview())
        except errors.Unauthenticated:
            return False
        except errors.SkiffError:
            return True
        return True
