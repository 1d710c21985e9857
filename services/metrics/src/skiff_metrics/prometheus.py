"""One instant query against Prometheus' HTTP API (`GET /api/v1/query`), shared by the custom and the
external metrics APIs. Prometheus is queried with aiohttp directly: the Python client libraries for it
add pandas and matplotlib for what is one GET here."""

from __future__ import annotations

import math
from dataclasses import dataclass

import aiohttp


class PrometheusError(Exception):
    pass


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    timestamp: float
    value: float


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def query(self, promql: str) -> list[Sample]:
        """The instant vector's samples (NaN and infinite values left out); PrometheusError otherwise."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._session.get(f"{self.url}/api/v1/query", params={"query": promql}) as resp:
                body = await resp.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise PrometheusError(f"unable to fetch metrics from prometheus: {exc}") from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "query failed") if isinstance(body, dict) else "query failed"
            raise PrometheusError(f"prometheus: {error} (query {promql})")
        data = body.get("data") or {}
        if data.get("resultType") == "scalar":
            at, text = data["result"]
            rows = [{"metric": {}, "value": [at, text]}]
        else:
            rows = list(data.get("result") or [])
        out = []
        for row in rows:
            at, text = row.get("value", [0, "NaN"])
            value = float(text)
            if math.isfinite(value):
                out.append(Sample(dict(row.get("metric") or {}), float(at), value))
        return out

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
