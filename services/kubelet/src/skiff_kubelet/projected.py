"""The kubelet's ServiceAccount token manager, for projected volumes' serviceAccountToken sources.

A projected volume gathers files from secrets, configMaps, the downward API and ServiceAccount tokens
(the `kube-api-access-*` volume ServiceAccount admission adds is one: token, ca.crt, namespace); its
payload is built in ``volume_sources.py`` and swapped in whole by the atomic writer.

Tokens come from TokenRequest (`create serviceaccounts/token`) for the pod's ServiceAccount, bound to
the pod (deleting the pod revokes them) with the audience the source names (none: the apiserver's).
The token manager caches them per (namespace, ServiceAccount, audience, lifetime, pod) and asks for a
new one once 80 % of its lifetime has passed or it is older than 24 h, as Kubernetes' token manager
does. The pod worker's periodic sync refreshes running pods' volumes (``volume_refresh.py``), so the
file is rewritten well before the old token expires; a process that re-reads the file gets the fresh one.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from skiff.api.core.v1 import pod_pb2, volume_pb2

DEFAULT_TOKEN_SECONDS = 3600
MAX_TOKEN_AGE = 24 * 3600.0
REFRESH_FRACTION = 0.8

# (namespace, serviceaccount, pod name, pod uid, audience, seconds) -> (token, expiry as Unix time)
TokenRequester = Callable[[str, str, str, str, str, int], Awaitable[tuple[str, float]]]


@dataclass
class _Token:
    value: str
    issued: float
    expires: float


def needs_refresh(issued: float, expires: float, now: float) -> bool:
    """80 % of the lifetime gone, or older than 24 h."""
    return now >= issued + (expires - issued) * REFRESH_FRACTION or now - issued > MAX_TOKEN_AGE


class TokenManager:
    def __init__(self, request: TokenRequester, clock: Callable[[], float] = time.time) -> None:
        self.request = request
        self.clock = clock
        self._tokens: dict[tuple[str, str, str, int, str], _Token] = {}

    async def get(self, pod: pod_pb2.Pod, src: volume_pb2.ServiceAccountTokenProjection) -> str:
        m = pod.metadata
        seconds = src.expiration_seconds if src.HasField("expiration_seconds") else DEFAULT_TOKEN_SECONDS
        key = (m.namespace, pod.spec.service_account_name, src.audience, seconds, m.uid)
        now = self.clock()
        cached = self._tokens.get(key)
        if cached is not None and not needs_refresh(cached.issued, cached.expires, now):
            return cached.value
        value, expires = await self.request(
            m.namespace, pod.spec.service_account_name, m.name, m.uid, src.audience, seconds
        )
        self._tokens[key] = _Token(value, now, expires)
        return value

    def forget(self, uid: str) -> None:
        """Drop the tokens of a pod that is gone."""
        for key in [k for k in self._tokens if k[4] == uid]:
            del self._tokens[key]
