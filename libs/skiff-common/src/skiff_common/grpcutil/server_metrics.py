"""Server metrics layer: one counter increment and one histogram observation per completed RPC."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc.aio

from skiff_common.grpcutil._wrapping import HandlerInterceptor, MethodInfo, outcome_code
from skiff_common.grpcutil.metrics import SERVER_HANDLED, SERVER_HANDLING_SECONDS


class MetricsInterceptor(HandlerInterceptor):
    @asynccontextmanager
    async def around(
        self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        start = time.monotonic()
        exc: BaseException | None = None
        try:
            yield
        except BaseException as e:
            exc = e
            raise
        finally:
            code = outcome_code(exc, context)
            SERVER_HANDLED.labels(info.service, info.method, code.name).inc()
            SERVER_HANDLING_SECONDS.labels(info.service, info.method).observe(time.monotonic() - start)
