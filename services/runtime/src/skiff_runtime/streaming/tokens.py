"""One-time tokens for streaming URLs, as the kubelet's streaming library issues them.

The CRI ``Exec``/``Attach``/``PortForward`` RPCs only validate a request and park it here; the URL
they return carries the token. The first HTTP request naming a token takes it (whether or not the
WebSocket upgrade then succeeds), so a URL can never be replayed, and an unused token expires after
``ttl`` seconds. The cache is bounded (``max_in_flight``): a client that asks for URLs and never uses
them gets a clear "too many" error instead of growing our memory.

The clock is injectable so tests can expire a token without sleeping.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from skiff_common.errors import TooManyRequests

T = TypeVar("T")

DEFAULT_TTL = 60.0  # the kubelet's streaming library: 1 minute
DEFAULT_MAX_IN_FLIGHT = 1000


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    expires_at: float


class TokenCache(Generic[T]):
    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_in_flight = max_in_flight
        self.clock = clock
        self._entries: dict[str, _Entry[T]] = {}

    def __len__(self) -> int:
        self._purge()
        return len(self._entries)

    def insert(self, value: T) -> str:
        self._purge()
        if len(self._entries) >= self.max_in_flight:
            raise TooManyRequests(
                f"{len(self._entries)} streaming requests are waiting for their client; try again later"
            )
        # 16 random bytes, URL-safe: unguessable, since the token is the only credential on the URL
        token = secrets.token_urlsafe(16)
        self._entries[token] = _Entry(value, self.clock() + self.ttl)
        return token

    def take(self, token: str) -> T | None:
        """The request parked under ``token``, removed; None if unknown, already used or expired."""
        entry = self._entries.pop(token, None)
        if entry is None or entry.expires_at <= self.clock():
            return None
        return entry.value

    def _purge(self) -> None:
        now = self.clock()
        for token in [t for t, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[token]
