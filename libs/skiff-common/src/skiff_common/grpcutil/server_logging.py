"""Access log layer: one structured line per completed RPC.

Successful and client-error outcomes log at INFO, server-side failures (INTERNAL, UNKNOWN, DATA_LOSS,
UNAVAILABLE) at WARNING; the traceback of a bug is logged separately by the error-mapping layer.
Health checks and other noisy methods can be silenced with `quiet_methods` (logged at DEBUG).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from skiff_common.grpcutil._wrapping import HandlerInterceptor, MethodInfo, outcome_code
from skiff_common.observability.logging import get_logger

log = get_logger("skiff.grpc.access")

_SERVER_FAULTS = frozenset(
    {
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNAVAILABLE,
    }
)


class AccessLogInterceptor(HandlerInterceptor):
    def __init__(self, quiet_methods: Iterable[str] = ()) -> None:
        self._quiet = frozenset(quiet_methods)

    @asynccontextmanager
    async def around(
        self, info: MethodInfo, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[None]:
        start = time.monotonic()
        peer = context.peer()  # read while the call is surely alive
        exc: BaseException | None = None
        try:
            yield
        except BaseException as e:
            exc = e
            raise
        finally:
            code = outcome_code(exc, context)
            if info.full_method in self._quiet or info.method in self._quiet:
                level = logging.DEBUG
            else:
                level = logging.WARNING if code in _SERVER_FAULTS else logging.INFO
            log.log(
                level,
                "rpc finished",
                grpc_service=info.service,
                grpc_method=info.method,
                grpc_code=code.name,
                duration_ms=round((time.monotonic() - start) * 1000, 3),
                peer=peer,
            )
